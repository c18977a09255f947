"""Password guessing over POP3 is slowed and then blocked per address (USER/PASS and APOP)."""

from __future__ import annotations

import hashlib
import poplib
import re
from collections.abc import Callable

import pytest

from tests.support.server import ServerProcess

THROTTLE = {
    "free_failures": 1,
    "failure_delay": 0.1,
    "block_after_failures": 3,
    "block_seconds": 60,
}


def login(server: ServerProcess, password: str) -> bool:
    client = poplib.POP3(server.host, server.ports["pop3"], timeout=20)
    try:
        client.user("group1_1")
        client.pass_(password)
        return True
    except poplib.error_proto:
        return False
    finally:
        client.close()


def test_repeated_bad_passwords_block_the_address(
    server_factory: Callable[..., ServerProcess],
) -> None:
    server = server_factory(auth=THROTTLE)
    assert login(server, "group1_1")
    for _ in range(3):
        assert not login(server, "wrong")
    assert not login(server, "group1_1"), "the blocked address must not get in even now"
    assert "blocked" in server.log() and "127.0.0.1" in server.log()


def test_apop_failures_count_too(server_factory: Callable[..., ServerProcess]) -> None:
    server = server_factory(auth=THROTTLE)
    for _ in range(3):
        client = poplib.POP3(server.host, server.ports["pop3"], timeout=20)
        with pytest.raises(poplib.error_proto):
            client.apop("group1_1", "wrong")
        client.close()
    client = poplib.POP3(server.host, server.ports["pop3"], timeout=20)
    banner = re.search(rb"<[^>]+>", client.getwelcome())
    assert banner is not None
    digest = hashlib.md5(banner.group(0) + b"group1_1").hexdigest()
    with pytest.raises(poplib.error_proto):
        client._shortcmd(f"APOP group1_1 {digest}")
    client.close()
