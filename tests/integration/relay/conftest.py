"""Several servers of ours on loopback, each its own domain, routed to each other.

``lab_server(domain, routes=..., **relay)`` starts one with a relay config
whose retry times are seconds, not minutes; the accounts are the usual
group1_1..group1_3 at that domain.
"""

from __future__ import annotations

import email
import email.message
import email.policy
import imaplib
import smtplib
import socket
import time
from collections.abc import Callable
from typing import Any

import pytest

from tests.support.server import ServerProcess

#: Generous: a loaded 2-core machine, a retry schedule of a few seconds.
DEADLINE = 60.0

FAST_RELAY: dict[str, Any] = {
    "min_backoff": 1,
    "max_backoff": 2,
    "scan_interval": 0.2,
    "connect_timeout": 5,
    "command_timeout": 30,
}

LabServer = Callable[..., ServerProcess]


@pytest.fixture
def lab_server(server_factory: Callable[..., ServerProcess]) -> LabServer:
    def start(
        domain: str,
        routes: dict[str, Any] | None = None,
        smtp_port: int = 0,
        **relay: Any,
    ) -> ServerProcess:
        settings = {**FAST_RELAY, "smarthost": "127.0.0.1:9", **relay}
        if routes:
            settings["routes"] = routes
        return server_factory(
            hostname=f"mx.{domain}",
            domains=[domain],
            listeners={"smtp": f"127.0.0.1:{smtp_port}", "imap": "127.0.0.1:0"},
            relay=settings,
        )

    return start


def smtp_route(server: ServerProcess) -> str:
    return f"127.0.0.1:{server.ports['smtp']}"


def free_port() -> int:
    """A loopback port nobody listens on (for a server started later)."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def send(server: ServerProcess, sender: str, recipients: list[str], subject: str, **kw: Any) -> str:
    """Log in as the sender's local part and send; returns the DATA reply text.
    ``envelope_from=`` in ``kw`` overrides the envelope sender (MAIL FROM)."""
    user = sender.split("@")[0]
    with smtplib.SMTP("127.0.0.1", server.ports["smtp"], timeout=30) as client:
        client.login(user, user)
        message = (
            f"From: <{sender}>\r\nTo: {', '.join(recipients)}\r\nSubject: {subject}\r\n\r\n"
            f"body of {subject}\r\n"
        )
        client.mail(kw.get("envelope_from", sender), kw.get("mail_options", []))
        for rcpt in recipients:
            code, reply = client.rcpt(rcpt, kw.get("rcpt_options", []))
            assert code == 250, reply
        code, reply = client.data(message.encode())
        assert code == 250, reply
        return reply.decode()


def inbox(server: ServerProcess, user: str) -> list[email.message.EmailMessage]:
    """The user's INBOX read over IMAP, as parsed messages."""
    client = imaplib.IMAP4("127.0.0.1", server.ports["imap"], timeout=30)
    try:
        client.login(user, user)
        client.select("INBOX", readonly=True)
        _, data = client.search(None, "ALL")
        messages = []
        for number in data[0].split():
            _, fetched = client.fetch(number, "(BODY.PEEK[])")
            raw = fetched[0][1]
            assert isinstance(raw, bytes)
            parsed = email.message_from_bytes(raw, policy=email.policy.default)
            assert isinstance(parsed, email.message.EmailMessage)
            messages.append(parsed)
        return messages
    finally:
        client.logout()


def relay_log(server: ServerProcess) -> str:
    """The server's log without the IMAP polling lines."""
    return "\n".join(line for line in server.log().splitlines() if ".imap:" not in line)[-4000:]


def wait_for_mail(
    server: ServerProcess, user: str, count: int = 1, deadline: float = DEADLINE
) -> list[email.message.EmailMessage]:
    end = time.monotonic() + deadline
    while True:
        messages = inbox(server, user)
        if len(messages) >= count:
            return messages
        if time.monotonic() > end:
            raise AssertionError(
                f"{user} has {len(messages)} of {count} messages after {deadline}s\n"
                f"--- log:\n{relay_log(server)}"
            )
        time.sleep(0.3)
