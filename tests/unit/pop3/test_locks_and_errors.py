"""The per-user maildrop lock and the one place store errors become replies."""

from __future__ import annotations

from typing import cast

from mailserver.pop3.errors import storage_error_reply
from mailserver.pop3.locks import MaildropLocks, locks_for
from mailserver.storage import ErrorKind, MailStore, StorageError


def test_lock_is_exclusive_per_user() -> None:
    locks = MaildropLocks()
    assert locks.try_acquire("group1_1")
    assert not locks.try_acquire("group1_1")
    assert locks.try_acquire("group1_2")
    locks.release("group1_1")
    assert locks.try_acquire("group1_1")
    locks.release("nobody")  # releasing what is not held is harmless


def test_registry_is_shared_per_store() -> None:
    class Store:
        pass

    one, two = cast(MailStore, Store()), cast(MailStore, Store())
    assert locks_for(one) is locks_for(one)
    assert locks_for(one) is not locks_for(two)


def test_error_mapping() -> None:
    assert storage_error_reply(StorageError(ErrorKind.EXPUNGED, "gone")) == (
        "-ERR message was deleted by another session"
    )
    assert storage_error_reply(StorageError(ErrorKind.IN_USE, "x")).startswith("-ERR [IN-USE]")
    temp = storage_error_reply(StorageError(ErrorKind.TEMPORARY, "disk\r\nfull"))
    assert temp == "-ERR [SYS/TEMP] disk full"
    assert storage_error_reply(StorageError(ErrorKind.NO_PERMISSION, "no")).startswith(
        "-ERR [SYS/PERM]"
    )
