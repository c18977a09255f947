"""Transcripts with two workers, lines batched (``session.lines``): every worker's
console shows every session whole and in order, and a long IMAP response is
shortened by the recorder with the right count, whichever worker served it."""

from __future__ import annotations

import re
import time
from collections.abc import Callable

from tests.integration.workers.test_web_sessions import Browser, web_server
from tests.integration.workers.test_workers import TIMEOUT, smtp_on
from tests.support.lines import LineClient
from tests.support.server import ServerProcess
from tests.support.workers import connect_to

ServerFactory = Callable[..., ServerProcess]
#: ``transcripts.response_lines`` in these tests.
SHOWN = 5
MESSAGES = 12


def _imap_on(server: ServerProcess, pid: int) -> LineClient:
    return connect_to(
        lambda: LineClient(server.host, server.ports["imap"], timeout=TIMEOUT),
        lambda c: c.sock,
        lambda c: c.close(),
        server.worker_pids(),
        pid,
    )


def _big_fetch(client: LineClient) -> list[bytes]:
    """Log in, append :data:`MESSAGES` messages, FETCH them all: the response's raw lines."""
    client.expect("* OK")
    client.send("a1 LOGIN group1_1 group1_1")
    client.read_until(lambda line: line.startswith("a1 "))
    for number in range(MESSAGES):
        body = f"Subject: n{number}\r\n\r\nbody {number}\r\n".encode()
        client.send(f"b{number} APPEND INBOX {{{len(body)}}}")
        client.expect("+")
        client.send(body)
        client.read_until(lambda line, n=number: line.startswith(f"b{n} "))  # type: ignore[misc]
    client.send("a2 SELECT INBOX")
    client.read_until(lambda line: line.startswith("a2 "))
    client.send("a3 FETCH 1:* (FLAGS UID)")
    raw = []
    while True:
        line = client.readline_bytes()
        raw.append(line)
        if line.startswith(b"a3 "):
            break
    assert raw[-1].startswith(b"a3 OK"), raw[-1]
    client.send("a4 LOGOUT")
    client.read_until(lambda line: line.startswith("a4 "))
    client.close()
    return raw


def _lines(text: str) -> list[str]:
    """The ``D: text`` part of each transcript line (without its time stamp)."""
    return [line[13:] for line in text.splitlines() if not line.startswith("#")]


def test_every_worker_shows_every_session_in_order_and_long_responses_shortened(
    server_factory: ServerFactory,
) -> None:
    server = web_server(
        server_factory,
        web={"admins": ["group1_1"]},
        transcripts={"response_lines": SHOWN},
    )
    first, second = server.worker_pids()
    for number, pid in enumerate((first, second)):
        client = smtp_on(server, pid)
        client.ehlo(f"pc-{number}.NetLab")
        client.noop()
        client.quit()
    fetched = _big_fetch(_imap_on(server, second))
    hidden = fetched[SHOWN:-1]
    expected_fetch = [
        "C: a3 FETCH 1:* (FLAGS UID)",
        *(f"S: {line.decode().rstrip()}" for line in fetched[:SHOWN]),
        f"S: [... {len(hidden)} more lines, {sum(map(len, hidden))} octets]",
        f"S: {fetched[-1].decode().rstrip()}",
        "C: a4 LOGOUT",
    ]
    browser = Browser(server)
    browser.log_in(first, first, "group1_1")
    for pid in (first, second):
        texts = {}
        deadline = time.monotonic() + TIMEOUT
        while True:
            page = browser.request(pid, "GET", "/console/")
            assert page.status == 200, page.body
            found = re.findall(r'href="/console/sessions/([^"/.]+)"', page.body)
            for session in found:
                if session.startswith("web-") or session in texts:
                    continue
                reply = browser.request(pid, "GET", f"/console/sessions/{session}.txt")
                assert reply.status == 200, reply.body
                if "S: 221" in reply.body or "C: a4 LOGOUT" in reply.body:
                    texts[session] = reply.body  # finished and whole
            joined = "\n".join(texts.values())
            if "C: a4 LOGOUT" in joined and all(f"pc-{n}.NetLab" in joined for n in (0, 1)):
                break
            assert time.monotonic() < deadline, f"worker {pid} lacks sessions: {joined}"
            time.sleep(0.2)
        for number in (0, 1):
            (smtp,) = [t for t in texts.values() if f"ehlo pc-{number}.NetLab" in t]
            lines = _lines(smtp)
            # Both directions, in the order they happened (batches keep it).
            assert lines[0].startswith("S: 220 "), lines
            assert lines[1] == f"C: ehlo pc-{number}.NetLab", lines
            assert lines[2].startswith("S: 250-"), lines
            assert lines[-4:-2] == ["C: noop", "S: 250 2.0.0 Ok"], lines
            assert lines[-2] == "C: quit" and lines[-1].startswith("S: 221 "), lines
        (imap,) = [t for t in texts.values() if "C: a4 LOGOUT" in t]
        lines = _lines(imap)
        start = lines.index("C: a3 FETCH 1:* (FLAGS UID)")
        assert lines[start : start + len(expected_fetch)] == expected_fetch, pid
