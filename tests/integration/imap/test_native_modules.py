"""The server says at start whether it runs the compiled parse modules (mailserver/native.py)."""

from __future__ import annotations

import os

from mailserver import native
from tests.support.server import ServerProcess
from tests.support.waiting import until


async def test_the_server_logs_which_parse_modules_it_runs(mail_server: ServerProcess) -> None:
    if os.environ.get(native.PURE_ENV, "") not in ("", "0"):
        expected = f"parse modules: pure Python ({native.PURE_ENV} set)"
    else:
        expected = f"parse modules: compiled with mypyc ({len(native.MODULES)} modules)"
    await until(lambda: expected in mail_server.log(), what=f"{expected!r} in the log")
    assert "NOT used" not in mail_server.log()
