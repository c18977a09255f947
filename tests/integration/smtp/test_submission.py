"""The submission listener (port 587) and CRAM-MD5, against the real server process.

On 587 a client must log in before MAIL and may only send as itself (its
user name or an alias, at any served domain); port 25 keeps taking mail for
local recipients from anyone, with no sender check.
"""

from __future__ import annotations

import contextlib
import smtplib
from collections.abc import Callable, Iterator

import pytest
import yaml

from tests.integration.smtp.helpers import DOMAIN, b64, delivered
from tests.support.lines import LineClient
from tests.support.server import ServerProcess

ServerFactory = Callable[..., ServerProcess]
LISTENERS = {"smtp": "127.0.0.1:0", "submission": "127.0.0.1:0"}
TIMEOUT = 20.0


def add_alias(server: ServerProcess, user: str, alias: str) -> None:
    """Aliases are kept in the user database; the server picks up the change by itself."""
    path = server.data_dir / "users.yaml"
    document = yaml.safe_load(path.read_text())
    document["users"][user].setdefault("aliases", []).append(alias)
    path.write_text(yaml.safe_dump(document))


@pytest.fixture
def server(server_factory: ServerFactory) -> Iterator[ServerProcess]:
    started = server_factory(listeners=LISTENERS)
    add_alias(started, "group1_1", "nick")
    yield started
    assert "Traceback" not in started.log()


@pytest.fixture
def submission(server: ServerProcess) -> Iterator[smtplib.SMTP]:
    client = smtplib.SMTP(server.host, server.ports["submission"], timeout=TIMEOUT)
    client.ehlo("pc")
    yield client
    with contextlib.suppress(smtplib.SMTPServerDisconnected):
        client.quit()


def test_typed_by_hand(server: ServerProcess) -> None:
    with LineClient(server.host, server.ports["submission"]) as client:
        client.expect("220 JServer.NetLab ESMTP ready")
        for line, reply in [
            ("helo pc", "250 JServer.NetLab"),
            (f"mail from:<group1_1@{DOMAIN}>", "530 5.7.0 Authentication required"),
            (f"rcpt to:<group1_2@{DOMAIN}>", "530 5.7.0 Authentication required"),
            ("data", "530 5.7.0 Authentication required"),
            ("auth login", "334 VXNlcm5hbWU6"),
            (b64("group1_1"), "334 UGFzc3dvcmQ6"),
            (b64("group1_1"), "235 2.7.0 Authentication successful"),
            (
                f"mail from:<group1_2@{DOMAIN}>",
                "553 5.7.1 Sender address rejected: not owned by user group1_1",
            ),
            (
                "mail from:<group1_1@elsewhere.example>",
                "553 5.7.1 Sender address rejected: not owned by user group1_1",
            ),
            ("mail from:<nick@jserver.netlab>", "250 2.1.0 Ok"),
            ("rset", "250 2.0.0 Ok"),
            (f"mail from:<GROUP1_1@{DOMAIN}>", "250 2.1.0 Ok"),
            ("rcpt to:<someone@remote.example>", "250 2.1.5 Ok"),  # relayed: logged in
            (f"rcpt to:<group1_2@{DOMAIN}>", "250 2.1.5 Ok"),
            ("data", "354 End data with <CR><LF>.<CR><LF>"),
        ]:
            client.send(line)
            client.expect(reply)
        client.send("Subject: Test mail 3\r\n\r\nThis is a test mail!\r\n.")
        client.expect("250 2.0.0 Ok: queued as ")
        client.send("quit")
        client.expect("221 2.0.0 Bye")
    [stored] = delivered(server, "group1_2")
    assert stored["Subject"] == "Test mail 3"
    assert stored["Return-Path"] == f"<GROUP1_1@{DOMAIN}>"


def test_smtplib_flow(submission: smtplib.SMTP, server: ServerProcess) -> None:
    with pytest.raises(smtplib.SMTPSenderRefused) as refused:
        submission.sendmail(f"group1_1@{DOMAIN}", [f"group1_2@{DOMAIN}"], b"x\r\n")
    assert refused.value.smtp_code == 530
    submission.login("group1_1", "group1_1")
    with pytest.raises(smtplib.SMTPSenderRefused) as refused:
        submission.sendmail(f"group1_3@{DOMAIN}", [f"group1_2@{DOMAIN}"], b"x\r\n")
    assert refused.value.smtp_code == 553
    assert refused.value.smtp_error == b"5.7.1 Sender address rejected: not owned by user group1_1"
    refused_rcpts = submission.sendmail(
        f"nick@{DOMAIN}",
        [f"group1_2@{DOMAIN}", f"group1_3@{DOMAIN}", "far@remote.example"],
        b"Subject: from the alias\r\n\r\nhello\r\n",
    )
    assert refused_rcpts == {}  # far@remote.example is queued for the smarthost
    for user in ("group1_2", "group1_3"):
        [stored] = delivered(server, user)
        assert stored["Subject"] == "from the alias"
        assert "with ESMTPA id" in stored["Received"]  # authenticated, no TLS


def test_port_25_takes_local_mail_from_anyone(server: ServerProcess) -> None:
    client = smtplib.SMTP(server.host, server.ports["smtp"], timeout=TIMEOUT)
    client.ehlo("pc")
    client.sendmail(
        "stranger@elsewhere.example", [f"group1_2@{DOMAIN}"], b"Subject: in\r\n\r\n.\r\n"
    )
    with pytest.raises(smtplib.SMTPRecipientsRefused) as refused:
        client.sendmail("stranger@elsewhere.example", ["far@remote.example"], b"x\r\n")
    assert refused.value.recipients["far@remote.example"][0] == 554
    # Logged in on port 25, the sender is not checked either.
    client.login("group1_1", "group1_1")
    client.sendmail(f"group1_3@{DOMAIN}", [f"group1_2@{DOMAIN}"], b"Subject: in2\r\n\r\n.\r\n")
    client.quit()
    assert sorted(m["Subject"] for m in delivered(server, "group1_2")) == ["in", "in2"]


def cram_md5(client: smtplib.SMTP, user: str, password: str) -> tuple[int, bytes]:
    """``login`` with CRAM-MD5 as the only mechanism tried."""
    client.user, client.password = user, password
    return client.auth("CRAM-MD5", client.auth_cram_md5)


@pytest.mark.parametrize("listener", ["smtp", "submission"])
def test_cram_md5_with_smtplib(server: ServerProcess, listener: str) -> None:
    client = smtplib.SMTP(server.host, server.ports[listener], timeout=TIMEOUT)
    client.ehlo("pc")
    assert client.esmtp_features["auth"].split() == ["PLAIN", "LOGIN", "CRAM-MD5"]
    assert cram_md5(client, "group1_1", "group1_1") == (235, b"2.7.0 Authentication successful")
    client.sendmail(f"group1_1@{DOMAIN}", [f"group1_2@{DOMAIN}"], b"Subject: cram\r\n\r\n.\r\n")
    client.quit()
    [stored] = delivered(server, "group1_2")
    assert "with ESMTPA id" in stored["Received"]


def test_cram_md5_fails_cleanly_without_a_plain_secret(submission: smtplib.SMTP) -> None:
    """``bob`` has a password hash only: CRAM-MD5 cannot work, and says so with 535."""
    with pytest.raises(smtplib.SMTPAuthenticationError) as failure:
        cram_md5(submission, "bob", "bob-secret-pw")
    assert failure.value.smtp_code == 535
    assert failure.value.smtp_error == b"5.7.8 Authentication credentials invalid"
    # The session goes on, and smtplib's usual login (CRAM-MD5 first, then PLAIN) works.
    assert submission.noop()[0] == 250
    assert submission.login("bob", "bob-secret-pw")[0] == 235
    submission.sendmail(f"bob@{DOMAIN}", [f"group1_1@{DOMAIN}"], b"Subject: bob\r\n\r\n.\r\n")
