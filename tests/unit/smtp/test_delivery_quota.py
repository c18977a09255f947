"""How DATA failures map to replies: a user's quota (552 5.2.2), a full disk
(452 4.3.1) and anything else (451)."""

from __future__ import annotations

from mailserver.smtp import replies
from mailserver.smtp.delivery import failure_reply
from mailserver.storage import ErrorKind, StorageError

OVER = StorageError(ErrorKind.OVER_QUOTA, "Quota exceeded")
DISK_FULL = StorageError(ErrorKind.NO_SPACE, "no space left: writing message")
DELIVERIES = {"u": "u@d", "v": "v@d"}


def test_quota_is_permanent_for_that_recipient() -> None:
    reply = failure_reply({"u": OVER}, DELIVERIES)
    assert reply == "552 5.2.2 Mailbox full: <u@d>"


def test_disk_full_is_temporary() -> None:
    reply = failure_reply({"v": DISK_FULL}, DELIVERIES)
    assert reply == replies.INSUFFICIENT_STORAGE == "452 4.3.1 Insufficient system storage"


def test_quota_wins_over_a_full_disk() -> None:
    assert failure_reply({"u": DISK_FULL, "v": OVER}, DELIVERIES).startswith("552 5.2.2")


def test_other_failures_stay_451() -> None:
    failure = StorageError(ErrorKind.TEMPORARY, "disk trouble")
    assert failure_reply({"u": failure}, DELIVERIES) == replies.TEMPORARY_FAILURE
    assert failure_reply({"u": RuntimeError()}, DELIVERIES) == replies.TEMPORARY_FAILURE
