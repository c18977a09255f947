"""RFC 7162 bookkeeping shared by the commands: is CONDSTORE/QRESYNC on, UID sets, VANISHED.

CONDSTORE is switched on by ENABLE or by the first command that uses it
("CONDSTORE enabling commands", RFC 7162 3.1); from then on every FETCH
response about a flag change carries the message's UID and MODSEQ so the
client's cache stays exact. QRESYNC (only by ENABLE) implies CONDSTORE and
turns EXPUNGE responses into VANISHED ones. The selected view is told
directly (``view.condstore`` / ``view.qresync``) because it writes the
unsolicited responses.
"""

from __future__ import annotations

import bisect
from collections.abc import Iterable, Sequence
from typing import TYPE_CHECKING

from mailserver.imap.commands.enable import enable, register
from mailserver.imap.parser.search_keys import And, ModSeqKey, Not, Or, SearchKey
from mailserver.storage import Folder

if TYPE_CHECKING:
    from mailserver.imap.session import ImapSession

CONDSTORE = "CONDSTORE"
QRESYNC = "QRESYNC"
#: UIDs named in one VANISHED (EARLIER) computed without expunge history are
#: capped: past this the client is better off re-reading the folder anyway.
MAX_UID_SPAN = 10_000_000
MAX_UID = 2**32 - 1


def condstore_on(session: ImapSession) -> bool:
    return CONDSTORE in session.enabled


def qresync_on(session: ImapSession) -> bool:
    return QRESYNC in session.enabled


def enable_condstore(session: ImapSession) -> None:
    """A CONDSTORE enabling command ran (RFC 7162 3.1): switch it on for the session."""
    if not condstore_on(session):
        enable(session, CONDSTORE)


def _on_condstore(session: ImapSession) -> None:
    if session.view is not None:
        session.view.condstore = True
        # RFC 7162 3.1: the first CONDSTORE enabling command after SELECT tells
        # the client the mailbox's HIGHESTMODSEQ before its tagged OK.
        session.view.announce_highest_modseq = True


def _on_qresync(session: ImapSession) -> None:
    enable(session, CONDSTORE)  # RFC 7162 3.2.3: QRESYNC implies CONDSTORE
    if session.view is not None:
        session.view.qresync = True


register(CONDSTORE, _on_condstore)
register(QRESYNC, _on_qresync)


def to_ranges(ordered: Sequence[int]) -> list[tuple[int, int]]:
    ranges: list[tuple[int, int]] = []
    for n in ordered:
        if ranges and n == ranges[-1][1] + 1:
            ranges[-1] = (ranges[-1][0], n)
        else:
            ranges.append((n, n))
    return ranges


def ranges_text(ranges: Iterable[tuple[int, int]]) -> bytes:
    return b",".join(b"%d" % a if a == b else b"%d:%d" % (a, b) for a, b in ranges)


def subtract(ranges: list[tuple[int, int]], numbers: Iterable[int]) -> list[tuple[int, int]]:
    """Ascending ranges without the given numbers (a few; ranges are split around each)."""
    out = list(ranges)
    for n in sorted(set(numbers)):
        index = bisect.bisect_right(out, (n, MAX_UID)) - 1
        if index < 0 or not out[index][0] <= n <= out[index][1]:
            continue
        low, high = out[index]
        pieces = [(a, b) for a, b in ((low, n - 1), (n + 1, high)) if a <= b]
        out[index : index + 1] = pieces
    return out


def uses_modseq(key: SearchKey) -> bool:
    """Does a SEARCH use the MODSEQ key anywhere (then the reply carries ``(MODSEQ n)``)?"""
    if isinstance(key, ModSeqKey):
        return True
    if isinstance(key, Not):
        return uses_modseq(key.key)
    if isinstance(key, Or):
        return uses_modseq(key.left) or uses_modseq(key.right)
    if isinstance(key, And):
        return any(uses_modseq(k) for k in key.keys)
    return False


def search_modseq(session: ImapSession, key: SearchKey, uids: Iterable[int]) -> int | None:
    """RFC 7162 3.1.5: a SEARCH using MODSEQ reports the highest mod-sequence it matched.

    None when the search did not use MODSEQ or matched nothing. Using the
    key is a CONDSTORE enabling command.
    """
    if not uses_modseq(key):
        return None
    enable_condstore(session)
    view = session.view
    assert view is not None
    found = [info.modseq for uid in uids if (info := view.info(uid)) is not None]
    return max(found, default=None)


async def expunged_code(session: ImapSession, folder: Folder, expunged: bool) -> str | None:
    """``HIGHESTMODSEQ n`` for the tagged OK of a command that expunged (RFC 7162 3.2.7, 3.2.9).

    Taken right after the expunge: the refresh that follows the command
    reports everything up to it (and maybe more), so a client that stores
    it as its resync point misses nothing.
    """
    if not expunged or not qresync_on(session):
        return None
    return f"HIGHESTMODSEQ {(await folder.snapshot()).highest_modseq}"


def _merge(ranges: Iterable[tuple[int, int]]) -> list[tuple[int, int]]:
    merged: list[tuple[int, int]] = []
    for low, high in sorted(ranges):
        if merged and low <= merged[-1][1] + 1:
            merged[-1] = (merged[-1][0], max(merged[-1][1], high))
        else:
            merged.append((low, high))
    return merged


async def vanished_since(
    folder: Folder,
    modseq: int,
    within: Iterable[tuple[int, int]],
    existing: Sequence[int],
    uidnext: int,
) -> list[tuple[int, int]]:
    """UID ranges expunged after ``modseq`` inside the ``within`` UID ranges.

    Uses the store's expunge history; when that does not reach back far
    enough, reports every UID in ``within`` that no longer exists (RFC 7162
    3.2.5.1 allows naming UIDs the client never knew). ``existing`` is the
    folder's current UIDs, ascending.
    """
    wanted = _merge((low, min(high, uidnext - 1)) for low, high in within if low < uidnext)
    if not wanted:
        return []
    history = await folder.expunged_since(modseq)
    if history is not None:
        inside = [
            uid
            for uid in history
            if (i := bisect.bisect_right(wanted, (uid, MAX_UID)) - 1) >= 0
            and wanted[i][0] <= uid <= wanted[i][1]
        ]
        return to_ranges(sorted(set(inside)))
    missing: list[tuple[int, int]] = []
    for low, high in wanted:
        if high - low > MAX_UID_SPAN:
            low = high - MAX_UID_SPAN
        cursor = low
        start = bisect.bisect_left(existing, low)
        for uid in existing[start:]:
            if uid > high:
                break
            if uid > cursor:
                missing.append((cursor, uid - 1))
            cursor = uid + 1
        if cursor <= high:
            missing.append((cursor, high))
    return _merge(missing)
