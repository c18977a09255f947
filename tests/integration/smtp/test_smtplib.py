"""Python's smtplib as the client: logins, recipients, limits, relay refusal, big messages."""

from __future__ import annotations

import contextlib
import email.message
import email.policy
import smtplib
import ssl
from collections.abc import Callable, Iterator

import pytest

from tests.integration.smtp.helpers import delivered, raw_delivered
from tests.support.server import ServerProcess

DOMAIN = "JServer.NetLab"


@pytest.fixture
def smtp(mail_server: ServerProcess) -> Iterator[smtplib.SMTP]:
    client = smtplib.SMTP(mail_server.host, mail_server.ports["smtp"], timeout=30)
    yield client
    with contextlib.suppress(smtplib.SMTPServerDisconnected):
        client.quit()


def make_message(subject: str, body: str = "hello\n", to: str = f"group1_2@{DOMAIN}") -> bytes:
    message = email.message.EmailMessage()
    message["From"] = f"group1_1@{DOMAIN}"
    message["To"] = to
    message["Subject"] = subject
    message.set_content(body)
    # CRLF: smtplib sends bytes as they are, and SMTP lines end in CRLF.
    return message.as_bytes(policy=email.policy.SMTP)


@pytest.mark.parametrize("mechanism", ["LOGIN", "PLAIN"])
def test_login_and_send(smtp: smtplib.SMTP, mail_server: ServerProcess, mechanism: str) -> None:
    smtp.ehlo("pc")
    smtp.user, smtp.password = "group1_1", "group1_1"
    auth_object = smtp.auth_login if mechanism == "LOGIN" else smtp.auth_plain
    code, reply = smtp.auth(mechanism, auth_object, initial_response_ok=mechanism == "PLAIN")
    assert (code, reply) == (235, b"2.7.0 Authentication successful")
    refused = smtp.sendmail(f"group1_1@{DOMAIN}", [f"group1_2@{DOMAIN}"], make_message("hi"))
    assert refused == {}
    [stored] = delivered(mail_server, "group1_2")
    assert stored["Subject"] == "hi"
    assert "with ESMTPA id" in stored["Received"]


def test_wrong_password(smtp: smtplib.SMTP) -> None:
    with pytest.raises(smtplib.SMTPAuthenticationError) as failure:
        smtp.login("group1_1", "wrong")
    assert failure.value.smtp_code == 535


def test_login_over_starttls(smtp: smtplib.SMTP, mail_server: ServerProcess) -> None:
    context = ssl.create_default_context()
    context.check_hostname = False
    context.verify_mode = ssl.CERT_NONE
    smtp.starttls(context=context)
    smtp.ehlo("pc")
    assert "starttls" not in smtp.esmtp_features
    assert smtp.docmd("STARTTLS") == (503, b"5.5.1 Error: TLS already active")
    smtp.login("group1_3", "group1_3")
    smtp.sendmail(f"group1_3@{DOMAIN}", [f"group1_1@{DOMAIN}"], make_message("tls"))
    [stored] = delivered(mail_server, "group1_1")
    assert "with ESMTPSA id" in stored["Received"]


def test_several_recipients(smtp: smtplib.SMTP, mail_server: ServerProcess) -> None:
    recipients = [f"group1_1@{DOMAIN}", f"group1_2@{DOMAIN}", f"GROUP1_3@{DOMAIN.upper()}."]
    assert smtp.sendmail(f"group1_1@{DOMAIN}", recipients, make_message("many")) == {}
    for user in ("group1_1", "group1_2", "group1_3"):
        [stored] = delivered(mail_server, user)
        assert stored["Subject"] == "many"


def test_some_recipients_refused(smtp: smtplib.SMTP, mail_server: ServerProcess) -> None:
    refused = smtp.sendmail(
        f"group1_1@{DOMAIN}",
        [f"nobody@{DOMAIN}", f"group1_2@{DOMAIN}", "someone@example.com"],
        make_message("partial"),
    )
    assert refused == {
        f"nobody@{DOMAIN}": (
            550,
            f"5.1.1 <nobody@{DOMAIN}>: Recipient address rejected: User unknown".encode(),
        ),
        "someone@example.com": (554, b"5.7.1 Relaying denied"),
    }
    assert [m["Subject"] for m in delivered(mail_server, "group1_2")] == ["partial"]


def test_postmaster_mailbox_is_created(smtp: smtplib.SMTP, mail_server: ServerProcess) -> None:
    smtp.ehlo("pc")
    assert smtp.mail("") == (250, b"2.1.0 Ok")
    assert smtp.rcpt("<Postmaster>")[0] == 250
    assert smtp.rcpt(f"postmaster@{DOMAIN.lower()}.")[0] == 250
    assert smtp.rcpt(f"PostMaster@{DOMAIN}")[0] == 250
    assert smtp.data(b"Subject: for the admin\r\n\r\nhello\r\n")[0] == 250
    [stored] = delivered(mail_server, "postmaster")  # one copy for three spellings
    assert stored["Subject"] == "for the admin"
    assert stored["Return-Path"] == "<>"


RELAY_TRICKS = [
    "someone@example.com",
    "someone@example.com.",
    f"@{DOMAIN}:someone@example.com",
    f"@{DOMAIN},@other.example:someone@example.com",
    f"someone%example.com@{DOMAIN}",
    f"someone%example.com@{DOMAIN.upper()}.",
    f"example.com!someone@{DOMAIN}",
    f"someone@example.com@{DOMAIN}",
    f'"someone@example.com"@{DOMAIN}',
    "someone@[192.0.2.1]",
    f"group1_1@{DOMAIN}.example.com",
]


@pytest.mark.parametrize("address", RELAY_TRICKS)
def test_relay_tricks_are_refused(
    smtp: smtplib.SMTP, mail_server: ServerProcess, address: str
) -> None:
    smtp.ehlo("pc")
    smtp.mail(f"group1_1@{DOMAIN}")
    code, reply = smtp.rcpt(f"<{address}>")
    assert code in (550, 553, 554), reply
    assert reply.startswith((b"5.7.1 ", b"5.1.1 ", b"5.1.3 "))
    assert smtp.docmd("DATA")[0] == 503  # nothing was accepted


def test_authenticated_users_relay_but_not_by_tricks(smtp: smtplib.SMTP) -> None:
    smtp.login("group1_1", "group1_1")
    smtp.mail(f"group1_1@{DOMAIN}")
    assert smtp.rcpt("someone@example.com") == (250, b"2.1.5 Ok")
    assert smtp.rcpt(f"someone%example.com@{DOMAIN}") == (554, b"5.7.1 Relaying denied")
    assert smtp.rcpt("someone%other.example@example.com") == (554, b"5.7.1 Relaying denied")


def test_unknown_user(smtp: smtplib.SMTP) -> None:
    smtp.ehlo("pc")
    smtp.mail(f"group1_1@{DOMAIN}")
    assert smtp.rcpt(f"nobody@{DOMAIN}") == (
        550,
        f"5.1.1 <nobody@{DOMAIN}>: Recipient address rejected: User unknown".encode(),
    )


@pytest.fixture
def small_server(smtp_server_factory: Callable[..., ServerProcess]) -> ServerProcess:
    return smtp_server_factory(limits={"max_message_size": 10_000})


def test_oversize_message_and_the_session_continues(small_server: ServerProcess) -> None:
    with smtplib.SMTP(small_server.host, small_server.ports["smtp"], timeout=30) as smtp:
        smtp.ehlo("pc")
        assert smtp.does_esmtp and smtp.esmtp_features["size"] == "10000"
        smtp.mail(f"group1_1@{DOMAIN}")
        smtp.rcpt(f"group1_2@{DOMAIN}")
        assert smtp.data(make_message("big", "x" * 70 + "\n") * 200) == (
            552,
            b"5.3.4 Message too big",
        )
        # SIZE= announced too big is refused at MAIL already.
        assert smtp.mail(f"group1_1@{DOMAIN}", ["SIZE=10001"]) == (552, b"5.3.4 Message too big")
        assert smtp.sendmail(f"group1_1@{DOMAIN}", [f"group1_2@{DOMAIN}"], make_message("ok")) == {}
    assert [m["Subject"] for m in delivered(small_server, "group1_2")] == ["ok"]


def test_dot_stuffing_round_trip(smtp: smtplib.SMTP, mail_server: ServerProcess) -> None:
    body_lines = [b".", b"..", b"...", b".leading dot", b"..two dots", b" . ", b"end."]
    body = b"\r\n".join(body_lines) + b"\r\n"
    smtp.sendmail(f"group1_1@{DOMAIN}", [f"group1_2@{DOMAIN}"], b"Subject: dots\r\n\r\n" + body)
    [raw] = raw_delivered(mail_server, "group1_2")
    stored_body = raw.replace(b"\r\n", b"\n").split(b"\n\n", 1)[1]
    assert stored_body == body.replace(b"\r\n", b"\n")


@pytest.mark.slow
def test_twenty_megabyte_message(smtp: smtplib.SMTP, mail_server: ServerProcess) -> None:
    line = b"0123456789abcdefghijklmnopqrstuvwxyz" * 2 + b"\r\n"  # 74 octets
    body = line * (20 * 1024 * 1024 // len(line))
    message = b"Subject: big\r\n\r\n" + body
    smtp.ehlo("pc")
    assert smtp.mail(f"group1_1@{DOMAIN}", [f"SIZE={len(message)}"])[0] == 250
    assert smtp.rcpt(f"group1_2@{DOMAIN}")[0] == 250
    code, reply = smtp.data(message)
    assert code == 250, reply
    [raw] = raw_delivered(mail_server, "group1_2")
    assert raw.replace(b"\r\n", b"\n").endswith(b"\n\n" + body.replace(b"\r\n", b"\n"))
