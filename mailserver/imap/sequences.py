"""Turn a parsed sequence set into the UIDs it names in the selected view."""

from __future__ import annotations

from mailserver.imap.errors import bad
from mailserver.imap.parser.sequence import SequenceSet
from mailserver.imap.view import SelectedView


def resolve_uids(view: SelectedView, sequence: SequenceSet, uid: bool) -> list[int]:
    """UIDs in ascending order.

    For UID commands, numbers that name no message are simply skipped and
    ``n:*`` always includes the highest UID (RFC 3501 6.4.8). Sequence
    numbers beyond EXISTS are a client error (``BAD``), except that ``1:*``
    in an empty mailbox just names nothing, as in Dovecot.
    """
    if uid:
        return list(view.uids_in(sequence.resolve(view.max_uid())))
    exists = view.exists
    if exists == 0 and any(None in pair for pair in sequence.ranges):
        return []
    if sequence.max_explicit() > exists:
        raise bad("Invalid message sequence number")
    return [view.uids[seq - 1] for seq in sequence.numbers(exists)]
