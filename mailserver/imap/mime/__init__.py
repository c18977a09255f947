"""Message analysis for IMAP: MIME structure, ENVELOPE, BODYSTRUCTURE, sections, SEARCH."""

from mailserver.imap.mime.section import Section, section_label

__all__ = ["Section", "section_label"]
