"""What the client side does with a next hop's capabilities: STARTTLS by the
route's TLS mode, AUTH to a smarthost, and no UTF-8 addresses to a hop
without SMTPUTF8 (RFC 6531: bounce rather than corrupt)."""

from __future__ import annotations

import smtplib
import threading
from collections.abc import Iterator
from typing import Any

import pytest
from aiosmtpd.controller import Controller

from tests.integration.relay.conftest import LabServer, free_port, relay_log, wait_for_mail
from tests.integration.relay.test_relay_between_servers import check_report, wait_until


class PlainSink:
    """aiosmtpd without STARTTLS and without SMTPUTF8."""

    def __init__(self) -> None:
        self.received: list[bytes] = []
        self.lock = threading.Lock()

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        with self.lock:
            self.received.append(envelope.original_content or b"")
        return "250 2.0.0 Ok"


@pytest.fixture
def plain_sink() -> Iterator[tuple[PlainSink, int]]:
    sink = PlainSink()
    port = free_port()
    controller = Controller(sink, hostname="127.0.0.1", port=port, enable_SMTPUTF8=False)
    controller.start()
    try:
        yield sink, port
    finally:
        controller.stop()


def test_tls_required_is_never_downgraded(
    lab_server: LabServer, plain_sink: tuple[PlainSink, int]
) -> None:
    sink, port = plain_sink
    server = lab_server(
        "group1.lab", routes={"far.lab": {"host": f"127.0.0.1:{port}", "tls": "required"}}
    )
    with smtplib.SMTP("127.0.0.1", server.ports["smtp"], timeout=30) as client:
        client.login("group1_1", "group1_1")
        client.sendmail("group1_1@group1.lab", ["x@far.lab"], b"Subject: secret\r\n\r\nhush\r\n")
    wait_until(lambda: "does not offer STARTTLS" in server.log(), server)
    assert "status=deferred" in server.log()
    assert sink.received == []


def test_utf8_address_to_a_hop_without_smtputf8_bounces(
    lab_server: LabServer, plain_sink: tuple[PlainSink, int]
) -> None:
    sink, port = plain_sink
    server = lab_server("group1.lab", routes={"far.lab": f"127.0.0.1:{port}"})
    with smtplib.SMTP("127.0.0.1", server.ports["smtp"], timeout=30) as client:
        client.login("group1_1", "group1_1")
        client.ehlo("pc")
        client.mail("group1_1@group1.lab", ["SMTPUTF8"])
        assert client.rcpt("jörg@far.lab")[0] == 250
        assert client.data("Subject: grüße\r\n\r\nhallo\r\n".encode())[0] == 250
    [dsn] = wait_for_mail(server, "group1_1")
    status = check_report(dsn, "jörg@far.lab", action="failed")
    assert status["Status"] == "5.6.7", relay_log(server)
    assert sink.received == []


def test_smarthost_with_auth(lab_server: LabServer) -> None:
    provider = lab_server("provider.lab")  # relays for its authenticated customers
    site = lab_server(
        "site.lab",
        smarthost={
            "host": f"127.0.0.1:{provider.ports['smtp']}",
            "tls": "required",
            "auth": {"user": "group1_3", "password": "group1_3"},
        },
    )
    with smtplib.SMTP("127.0.0.1", site.ports["smtp"], timeout=30) as client:
        client.login("group1_1", "group1_1")
        client.sendmail("group1_1@site.lab", ["group1_2@provider.lab"], b"Subject: up\r\n\r\n.\r\n")
    [message] = wait_for_mail(provider, "group1_2")
    assert message["Subject"] == "up"
    assert "with ESMTPSA" in str(message["Received"])  # TLS and AUTH on the smarthost hop
    assert "authenticated as group1_3" in provider.log()
