"""OS errors become store errors whose kind the protocols can map, and whose text is safe."""

from __future__ import annotations

import errno

import pytest

from mailserver.storage import ErrorKind
from mailserver.storage.maildir.io import storage_error


@pytest.mark.parametrize(
    ("exc", "kind"),
    [
        (OSError(errno.ENOSPC, "No space left on device", "/secret/path"), ErrorKind.NO_SPACE),
        (OSError(errno.EDQUOT, "Disk quota exceeded", "/secret/path"), ErrorKind.NO_SPACE),
        (PermissionError(errno.EACCES, "denied", "/secret/path"), ErrorKind.NO_PERMISSION),
        (FileNotFoundError(errno.ENOENT, "missing", "/secret/path"), ErrorKind.NOT_FOUND),
        (OSError(errno.EIO, "I/O error", "/secret/path"), ErrorKind.TEMPORARY),
    ],
)
def test_kind_and_safe_message(exc: OSError, kind: ErrorKind) -> None:
    error = storage_error(exc, "writing message")
    assert error.kind is kind
    assert "/secret/path" not in error.message and "writing message" in error.message
