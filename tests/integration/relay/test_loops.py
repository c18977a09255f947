"""Loop protection: a message that has crossed too many hops is refused (RFC 5321 6.3)."""

from __future__ import annotations

import smtplib

from tests.integration.relay.conftest import LabServer, inbox


def message_with_hops(count: int) -> bytes:
    trace = "".join(
        f"Received: from hop{n}.example by hop{n + 1}.example; Sun, 6 Dec 2026 10:00:00 +0000\r\n"
        for n in range(count)
    )
    return (trace + "Subject: round and round\r\n\r\nagain\r\n").encode()


def test_fifty_received_fields_are_refused_forty_nine_pass(lab_server: LabServer) -> None:
    server = lab_server("group1.lab")
    with smtplib.SMTP("127.0.0.1", server.ports["smtp"], timeout=30) as client:
        client.ehlo("hop50.example")
        client.mail("someone@far.example")
        client.rcpt("group1_1@group1.lab")
        assert client.data(message_with_hops(50)) == (
            554,
            b"5.4.6 Too many hops: mail loop detected",
        )
        client.mail("someone@far.example")
        client.rcpt("group1_1@group1.lab")
        assert client.data(message_with_hops(49))[0] == 250
    [stored] = inbox(server, "group1_1")
    assert len(stored.get_all("Received")) == 50
