"""UIDPLUS response codes (RFC 4315 3): APPENDUID and COPYUID tell a client the new
message's UID so it never has to search for it (Outlook duplicates drafts otherwise)."""

from __future__ import annotations

from collections.abc import Iterable, Mapping

from mailserver.storage import Folder


def uid_set(uids: Iterable[int]) -> str:
    """``1:3,7,9:10``; the order is kept, because COPYUID pairs two sets element by element."""
    runs: list[list[int]] = []
    for uid in uids:
        if runs and uid == runs[-1][1] + 1:
            runs[-1][1] = uid
        else:
            runs.append([uid, uid])
    return ",".join(str(a) if a == b else f"{a}:{b}" for a, b in runs)


async def appenduid_code(folder: Folder, uid: int) -> str:
    snapshot = await folder.snapshot()
    return f"APPENDUID {snapshot.uidvalidity} {uid}"


async def copyuid_code(target: Folder, mapping: Mapping[int, int]) -> str | None:
    """``COPYUID <uidvalidity> <source set> <dest set>``; None when nothing was copied."""
    if not mapping:
        return None
    snapshot = await target.snapshot()
    sources = sorted(mapping)
    return (
        f"COPYUID {snapshot.uidvalidity} {uid_set(sources)} "
        f"{uid_set(mapping[uid] for uid in sources)}"
    )
