"""Message analysis for IMAP: MIME structure, ENVELOPE, BODYSTRUCTURE, sections, SEARCH.

Callers use :class:`MessageCache` (one per store folder) and the
:class:`ParsedMessage` it returns; :class:`Section` names a FETCH body part.
"""

from mailserver.imap.mime.cache import MessageCache
from mailserver.imap.mime.message import ParsedMessage
from mailserver.imap.mime.section import Section, section_label

__all__ = ["MessageCache", "ParsedMessage", "Section", "section_label"]
