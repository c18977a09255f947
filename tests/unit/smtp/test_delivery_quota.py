"""How DATA failures map to replies: a user's quota (552 5.2.2) versus a full disk
(452 4.3.1), which the store reports with the same error kind."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from mailserver.config import Config
from mailserver.services import Services
from mailserver.smtp import replies
from mailserver.smtp.delivery import DeliveryHandler
from mailserver.storage import ErrorKind, StorageError


class _Mailbox:
    def __init__(self, limit: int | None, used: int) -> None:
        self.limit = limit
        self.used = used

    def quota_limit(self) -> int | None:
        return self.limit

    async def usage(self) -> tuple[int, int]:
        return self.used, 1


class _Store:
    def __init__(self, boxes: dict[str, _Mailbox]) -> None:
        self.boxes = boxes

    async def mailbox(self, user: str) -> _Mailbox:
        return self.boxes[user]


def handler(boxes: dict[str, _Mailbox]) -> DeliveryHandler:
    config = Config(hostname="JServer.NetLab", domains=("JServer.NetLab",), data_dir=Path("/x"))
    auth: Any = type("Auth", (), {"resolve": staticmethod(lambda name: name)})()
    store: Any = _Store(boxes)
    return DeliveryHandler(Services(config, store, auth))


OVER = StorageError(ErrorKind.OVER_QUOTA, "Quota exceeded")


async def test_quota_race_is_permanent_for_that_recipient() -> None:
    h = handler({"u": _Mailbox(limit=100, used=90), "v": _Mailbox(limit=None, used=0)})
    reply = await h.failure_reply(
        {"u": OVER}, {"u": b"x" * 20, "v": b"x"}, {"u": "u@d", "v": "v@d"}
    )
    assert reply == "552 5.2.2 Mailbox full: <u@d>"


async def test_disk_full_is_temporary() -> None:
    h = handler({"u": _Mailbox(limit=None, used=0)})
    reply = await h.failure_reply({"u": OVER}, {"u": b"x"}, {"u": "u@d"})
    assert reply == replies.INSUFFICIENT_STORAGE == "452 4.3.1 Insufficient system storage"


async def test_other_failures_stay_451() -> None:
    h = handler({"u": _Mailbox(limit=10, used=0)})
    failure = StorageError(ErrorKind.TEMPORARY, "disk trouble")
    assert await h.failure_reply({"u": failure}, {"u": b"x"}, {"u": "u@d"}) == (
        replies.TEMPORARY_FAILURE
    )
    assert await h.failure_reply({"u": RuntimeError()}, {"u": b"x"}, {"u": "u@d"}) == (
        replies.TEMPORARY_FAILURE
    )
