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
    in an empty mailbox just names nothing, as in Dovecot. ``$`` (SEARCHRES)
    names the saved result's messages still in the view, whatever ``uid`` says.
    """
    if sequence.saved:
        return saved_uids(view)
    if uid:
        return list(view.uids_in(sequence.resolve(view.max_uid())))
    exists = view.exists
    if exists == 0 and any(None in pair for pair in sequence.ranges):
        return []
    if sequence.max_explicit() > exists:
        raise bad("Invalid message sequence number")
    return [view.uids[seq - 1] for seq in sequence.numbers(exists)]


def saved_uids(view: SelectedView) -> list[int]:
    """The SEARCHRES result (RFC 5182) without messages expunged since, ascending."""
    return sorted(uid for uid in view.saved_result if view.seq_of(uid) is not None)


def uid_ranges(view: SelectedView, sequence: SequenceSet, largest: int) -> list[tuple[int, int]]:
    """A UID set as ``(low, high)`` ranges (``$`` included)."""
    if sequence.saved:
        return [(uid, uid) for uid in saved_uids(view)]
    return sequence.resolve(largest)
