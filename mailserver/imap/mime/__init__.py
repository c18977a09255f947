"""Message analysis for IMAP: MIME structure, ENVELOPE, BODYSTRUCTURE, sections, SEARCH.

Callers use :class:`MessageCache` (one per store folder) and the
:class:`ParsedMessage` it returns; :class:`Section` names a FETCH body part.

The names are imported on first use (PEP 562): a parse helper process
(:mod:`.parsehelper`) imports a module of this package, which runs this
file, and must not pay for the cache and the maildir store it never uses.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from mailserver.imap.mime.cache import MessageCache
    from mailserver.imap.mime.message import ParsedMessage
    from mailserver.imap.mime.section import Section, section_label

__all__ = ["MessageCache", "ParsedMessage", "Section", "section_label"]

_HOMES = {
    "MessageCache": "mailserver.imap.mime.cache",
    "ParsedMessage": "mailserver.imap.mime.message",
    "Section": "mailserver.imap.mime.section",
    "section_label": "mailserver.imap.mime.section",
}


def __getattr__(name: str) -> Any:
    home = _HOMES.get(name)
    if home is None:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    value = getattr(importlib.import_module(home), name)
    globals()[name] = value
    return value
