"""A busy client cannot hold a POP3 or IMAP session for ever: the total-time cap."""

from __future__ import annotations

import time
from collections.abc import Callable

from tests.support.lines import LineClient
from tests.support.server import ServerProcess

#: Long enough for a login on a loaded machine; the cap runs from connect.
CAP = 3.0


def keep_busy(client: LineClient, command: str, goodbye: str) -> list[str]:
    """Send a command every 0.2 s until the server says goodbye; return what it said."""
    seen: list[str] = []
    deadline = time.monotonic() + 15
    while time.monotonic() < deadline:
        client.send(command)
        line = client.readline()
        seen.append(line)
        if line.startswith(goodbye):
            return seen
        time.sleep(0.2)
    raise AssertionError(f"no goodbye within 15 s: {seen[-3:]}")


def test_pop3_session_time_limit(server_factory: Callable[..., ServerProcess]) -> None:
    server = server_factory(timeouts={"pop3_session": CAP})
    started = time.monotonic()
    with LineClient(server.host, server.ports["pop3"]) as client:
        client.expect("+OK")
        client.send("user group1_1")
        client.expect("+OK")
        client.send("pass group1_1")
        client.expect("+OK")
        seen = keep_busy(client, "noop", "-ERR [SYS/TEMP] session time limit")
        assert time.monotonic() - started >= CAP - 0.2
        assert all(line == "+OK" for line in seen[:-1])
        assert client.file.readline() == b""


def test_imap_session_time_limit(server_factory: Callable[..., ServerProcess]) -> None:
    server = server_factory(timeouts={"imap_session": CAP})
    started = time.monotonic()
    with LineClient(server.host, server.ports["imap"]) as client:
        client.expect("* OK")
        client.send("a LOGIN group1_1 group1_1")
        client.expect("a OK")
        seen = keep_busy(client, "n NOOP", "* BYE Session time limit")
        assert time.monotonic() - started >= CAP - 0.2
        assert all(line.startswith("n OK") for line in seen[:-1])
