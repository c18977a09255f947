"""An idle IMAP session's transcript packed in both workers (``transcripts/packing.py``)
still shows whole and exact on either worker's console, and its next command shows
once, after what was packed."""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

from tests.integration.console.test_transcripts_and_logs import control, wait_for
from tests.integration.workers.test_transcripts_across_workers import _imap_on, _lines
from tests.integration.workers.test_web_sessions import Browser, web_server
from tests.integration.workers.test_workers import TIMEOUT
from tests.support.server import ServerProcess

ServerFactory = Callable[..., ServerProcess]


def test_a_packed_idle_session_shows_whole_on_every_worker(
    server_factory: ServerFactory,
) -> None:
    server = web_server(server_factory, web={"admins": ["group1_1"]})
    first, second = server.worker_pids()
    imap = _imap_on(server, second)
    port = imap.sock.getsockname()[1]
    said = [f"S: {imap.expect('* OK')}"]
    imap.send("a1 LOGIN group1_2 group1_2")
    said += ["C: a1 LOGIN group1_2 ********"]
    said += [f"S: {line}" for line in imap.read_until(lambda line: line.startswith("a1 "))]
    imap.send("a2 SELECT INBOX")
    said += ["C: a2 SELECT INBOX"]
    said += [f"S: {line}" for line in imap.read_until(lambda line: line.startswith("a2 "))]
    assert said[-1].startswith("S: a2 OK"), said

    def packed() -> dict[str, Any] | None:
        sessions = control(server, "sessions.list")["sessions"]
        mine = [s for s in sessions if s["peer"] == f"127.0.0.1:{port}"]
        return mine[0] if mine and mine[0]["packed"] else None

    # The control socket's worker keeps it packed, whether it serves it or mirrors it.
    session = wait_for(packed, "the idle session packed", timeout=TIMEOUT)["session"]
    browser = Browser(server)
    browser.log_in(first, first, "group1_1")

    def page(pid: int) -> list[str]:
        reply = browser.request(pid, "GET", f"/console/sessions/{session}.txt")
        assert reply.status == 200, reply.body
        return _lines(reply.body)

    for pid in (first, second):
        assert page(pid) == said, pid
    imap.send("a3 NOOP")
    reply = imap.read_until(lambda line: line.startswith("a3 "))
    after = [*said, "C: a3 NOOP", *(f"S: {line}" for line in reply)]
    for pid in (first, second):
        deadline = time.monotonic() + TIMEOUT
        while (lines := page(pid)) != after:
            assert len(lines) < len(after) and time.monotonic() < deadline, (pid, lines)
            time.sleep(0.1)
    imap.send("a4 LOGOUT")
    imap.read_until(lambda line: line.startswith("a4 "))
    imap.close()
