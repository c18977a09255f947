"""OBJECTID (RFC 8474): permanent names for mailboxes and messages.

- MAILBOXID: the store's folder id (the ``G`` of ``dovecot-uidlist``), which
  moves with the folder on RENAME; in SELECT/EXAMINE, CREATE and STATUS.
- EMAILID: derived from the message's header block and size, so a COPY or
  MOVE (a new file with the same content) keeps it, as the RFC asks, and
  it never changes while the message exists. Identical messages share it,
  which RFC 8474 5.1 allows.
- THREADID: NIL: threads are computed per request (THREAD), not stored.
"""

from __future__ import annotations

import hashlib

from mailserver.imap.mime import ParsedMessage
from mailserver.storage import Snapshot

CAPABILITY = "OBJECTID"


def mailbox_id(snapshot: Snapshot) -> str:
    """An ``objectid`` (1*255 of ALPHA / DIGIT / "_" / "-")."""
    text = snapshot.mailbox_id or f"V{snapshot.uidvalidity}"
    return "".join(c for c in text if c.isalnum() or c in "_-")[:255] or "V0"


def mailbox_id_code(snapshot: Snapshot) -> str:
    return f"MAILBOXID ({mailbox_id(snapshot)})"


def email_id(parsed: ParsedMessage) -> str:
    digest = hashlib.sha256(b"%d\n" % parsed.size + parsed.header).hexdigest()
    return "M" + digest[:24]
