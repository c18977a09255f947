"""SMTP delivery against per-user quotas: 452 4.2.2 at RCPT when full, 552 5.2.2 at DATA
when the message does not fit, and never a partial delivery."""

from __future__ import annotations

import smtplib
from collections.abc import Callable

import pytest

from tests.integration.smtp.helpers import connect, converse, delivered
from tests.support.server import ServerProcess

#: group1_1: 10 KiB; group1_2: 1 MiB; group1_3: nothing at all (always full).
QUOTA = {"default_mb": 10 / 1024, "users": {"group1_2": 1, "group1_3": 0}}


def mail(size: int, subject: str = "quota") -> bytes:
    head = f"From: group1_2@JServer.NetLab\r\nSubject: {subject}\r\n\r\n".encode()
    return head + b"".join(b"%069d\r\n" % n for n in range((size - len(head)) // 71))


@pytest.fixture
def quota_server(smtp_server_factory: Callable[..., ServerProcess]) -> ServerProcess:
    return smtp_server_factory(quota=QUOTA)


def test_message_that_does_not_fit_is_refused_at_data(quota_server: ServerProcess) -> None:
    with smtplib.SMTP(quota_server.host, quota_server.ports["smtp"], timeout=20) as client:
        client.sendmail("a@JServer.NetLab", ["group1_1@JServer.NetLab"], mail(6000))
        with pytest.raises(smtplib.SMTPDataError) as refused:
            client.sendmail("a@JServer.NetLab", ["group1_1@JServer.NetLab"], mail(6000))
        assert refused.value.smtp_code == 552
        assert refused.value.smtp_error.startswith(b"5.2.2 Mailbox full")
        # A smaller one still fits.
        client.sendmail("a@JServer.NetLab", ["group1_1@JServer.NetLab"], mail(2000))
    assert len(delivered(quota_server, "group1_1")) == 2


def test_no_partial_delivery_when_one_recipient_is_over(quota_server: ServerProcess) -> None:
    with smtplib.SMTP(quota_server.host, quota_server.ports["smtp"], timeout=20) as client:
        with pytest.raises(smtplib.SMTPDataError) as refused:
            client.sendmail(
                "a@JServer.NetLab",
                ["group1_2@JServer.NetLab", "group1_1@JServer.NetLab"],
                mail(12000),
            )
        assert refused.value.smtp_code == 552
        assert b"<group1_1@JServer.NetLab>" in refused.value.smtp_error
    assert delivered(quota_server, "group1_2") == []
    assert delivered(quota_server, "group1_1") == []


def test_full_mailbox_is_refused_at_rcpt_with_a_temporary_code(
    quota_server: ServerProcess,
) -> None:
    client = connect(quota_server)
    try:
        converse(
            client,
            """
            C: HELO lab
            S: 250
            C: MAIL FROM:<a@JServer.NetLab>
            S: 250 2.1.0
            C: RCPT TO:<group1_3@JServer.NetLab>
            S: 452 4.2.2 Mailbox full
            C: RCPT TO:<group1_2@JServer.NetLab>
            S: 250 2.1.5
            C: DATA
            S: 354
            C: Subject: still delivered to the others
            C:
            C: hello
            C: .
            S: 250 2.0.0 Ok: queued as
            C: QUIT
            S: 221
            """,
        )
    finally:
        client.close()
    assert len(delivered(quota_server, "group1_2")) == 1
    assert delivered(quota_server, "group1_3") == []
