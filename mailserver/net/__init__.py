"""Bounded readers shared by the line-based protocols (POP3, IMAP)."""

from mailserver.net.lines import LineTooLong, read_line

__all__ = ["LineTooLong", "read_line"]
