"""No open relay: strangers, relay tricks and clients outside ``relay.networks``."""

from __future__ import annotations

import smtplib
from collections.abc import Callable

import pytest

from tests.integration.smtp.test_smtplib import DOMAIN, RELAY_TRICKS
from tests.support.server import ServerProcess

SMTP_ONLY = {"smtp": "127.0.0.1:0"}


@pytest.fixture
def outside_networks(server_factory: Callable[..., ServerProcess]) -> ServerProcess:
    """Relaying without AUTH is allowed only from a lab subnet we are not in."""
    return server_factory(
        listeners=SMTP_ONLY, relay={"networks": ["10.99.0.0/16"], "smarthost": "127.0.0.1:9"}
    )


@pytest.fixture
def inside_networks(server_factory: Callable[..., ServerProcess]) -> ServerProcess:
    return server_factory(
        listeners=SMTP_ONLY, relay={"networks": ["127.0.0.0/8"], "smarthost": "127.0.0.1:9"}
    )


def stranger(server: ServerProcess) -> smtplib.SMTP:
    client = smtplib.SMTP("127.0.0.1", server.ports["smtp"], timeout=30)
    client.ehlo("stranger.example")
    assert client.mail("spammer@example.net")[0] == 250
    return client


def test_outside_relay_networks_every_trick_is_refused(outside_networks: ServerProcess) -> None:
    with stranger(outside_networks) as client:
        assert client.rcpt("victim@example.com") == (554, b"5.7.1 Relaying denied")
        for address in RELAY_TRICKS:
            code, reply = client.rcpt(f"<{address}>")
            assert code in (550, 553, 554), (address, reply)
            assert reply.startswith((b"5.7.1 ", b"5.1.1 ", b"5.1.3 ")), (address, reply)
        assert client.docmd("DATA")[0] == 503  # nothing was accepted
    assert not list((outside_networks.data_dir / "queue").glob("*.json"))


TRUSTED_TRICKS = [
    f"someone%example.com@{DOMAIN}",
    f"example.com!someone@{DOMAIN}",
    f"someone@example.com@{DOMAIN}",
    f'"someone@example.com"@{DOMAIN}',
    "someone%other.example@example.com",
    "other.example!someone@example.com",
    "someone@[192.0.2.1]",
]


def test_trusted_network_still_gets_no_tricks(inside_networks: ServerProcess) -> None:
    with stranger(inside_networks) as client:
        for address in TRUSTED_TRICKS:
            code, reply = client.rcpt(f"<{address}>")
            assert code in (550, 553, 554), (address, reply)
        assert client.docmd("DATA")[0] == 503


def test_trusted_network_relays_plain_addresses(inside_networks: ServerProcess) -> None:
    with stranger(inside_networks) as client:
        assert client.rcpt("friend@example.com") == (250, b"2.1.5 Ok")
        # A source route is dropped and the final address judged (RFC 5321 C).
        assert client.rcpt(f"<@{DOMAIN}:other@example.com>") == (250, b"2.1.5 Ok")
        code, reply = client.data(b"Subject: lab neighbour\r\n\r\nhi\r\n")
        assert code == 250 and reply.startswith(b"2.0.0 Ok: queued as "), reply
    assert len(list((inside_networks.data_dir / "queue").glob("*.json"))) == 1
