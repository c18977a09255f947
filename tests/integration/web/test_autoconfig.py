"""Thunderbird autoconfig and Outlook autodiscover: fetched, parsed, and every
server they name is connected to and logged in to with the settings given."""

from __future__ import annotations

import imaplib
import poplib
import smtplib
import urllib.request
import xml.etree.ElementTree as ET
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.integration.web.conftest import http_url, web_config
from tests.support.server import HOSTNAME, ServerProcess
from tests.support.tls import trusting

USER = "group1_1"
ADDRESS = f"{USER}@{HOSTNAME}"
NS = "{http://schemas.microsoft.com/exchange/autodiscover/outlook/responseschema/2006a}"


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ServerProcess]:
    directory: Path = tmp_path_factory.mktemp("autoconfig")
    listeners = {
        name: "127.0.0.1:0"
        for name in ("smtp", "submission", "smtps", "pop3", "pop3s", "imap", "imaps", "http")
    }
    process = ServerProcess(web_config(directory, listeners=listeners)).start()
    yield process
    process.stop()


def log_in(server: ServerProcess, protocol: str, port: int, security: str, user: str) -> None:
    """Connect the way the document says (host name from it is checked, 127.0.0.1 used)."""
    tls = trusting(server)
    host = "127.0.0.1"
    if protocol == "imap":
        imap = (
            imaplib.IMAP4_SSL(host, port, ssl_context=tls, timeout=30)
            if security == "SSL"
            else imaplib.IMAP4(host, port, timeout=30)
        )
        if security == "STARTTLS":
            imap.starttls(tls)
        assert imap.login(user, USER)[0] == "OK"
        imap.logout()
    elif protocol == "pop3":
        pop = (
            poplib.POP3_SSL(host, port, context=tls, timeout=30)
            if security == "SSL"
            else poplib.POP3(host, port, timeout=30)
        )
        if security == "STARTTLS":
            pop.stls(tls)
        pop.user(user)
        assert pop.pass_(USER).startswith(b"+OK")
        pop.quit()
    else:
        smtp = (
            smtplib.SMTP_SSL(host, port, context=tls, timeout=30)
            if security == "SSL"
            else smtplib.SMTP(host, port, timeout=30)
        )
        smtp.ehlo()
        if security == "STARTTLS":
            smtp.starttls(context=tls)
            smtp.ehlo()
        assert smtp.login(user, USER)[0] == 235
        smtp.quit()


@pytest.mark.parametrize(
    "path", ["/.well-known/autoconfig/mail/config-v1.1.xml", "/mail/config-v1.1.xml"]
)
def test_thunderbird_autoconfig_connects(server: ServerProcess, path: str) -> None:
    with urllib.request.urlopen(
        http_url(server, f"{path}?emailaddress={ADDRESS}"), timeout=30
    ) as reply:
        assert reply.headers.get_content_type() == "application/xml"
        root = ET.fromstring(reply.read())
    assert root.tag == "clientConfig" and root.get("version") == "1.1"
    provider = root.find("emailProvider")
    assert provider is not None
    assert HOSTNAME in [d.text for d in provider.findall("domain")]
    seen = set()
    for server_element in [
        *provider.findall("incomingServer"),
        *provider.findall("outgoingServer"),
    ]:
        protocol = server_element.get("type")
        assert server_element.findtext("hostname") == HOSTNAME
        port = int(server_element.findtext("port") or 0)
        security = server_element.findtext("socketType") or ""
        assert security in ("SSL", "STARTTLS", "plain")
        username = (server_element.findtext("username") or "").replace("%EMAILLOCALPART%", USER)
        assert server_element.findtext("authentication") == "password-cleartext"
        assert protocol is not None
        log_in(server, protocol, port, security, username)
        seen.add((protocol, port, security))
    ports = server.ports
    assert ("imap", ports["imaps"], "SSL") in seen
    assert ("imap", ports["imap"], "STARTTLS") in seen
    assert ("imap", ports["imap"], "plain") in seen  # the test config allows plaintext logins
    assert ("pop3", ports["pop3s"], "SSL") in seen
    assert ("smtp", ports["submission"], "STARTTLS") in seen
    assert ("smtp", ports["smtps"], "SSL") in seen
    first_incoming = provider.find("incomingServer")
    assert first_incoming is not None and first_incoming.findtext("socketType") == "SSL"


def test_outlook_autodiscover_connects(server: ServerProcess) -> None:
    request = (
        '<?xml version="1.0" encoding="utf-8"?>'
        '<Autodiscover xmlns="http://schemas.microsoft.com/exchange/autodiscover/outlook/requestschema/2006">'
        f"<Request><EMailAddress>{ADDRESS}</EMailAddress>"
        "<AcceptableResponseSchema>http://schemas.microsoft.com/exchange/autodiscover/outlook/responseschema/2006a"
        "</AcceptableResponseSchema></Request></Autodiscover>"
    ).encode()
    post = urllib.request.Request(
        http_url(server, "/autodiscover/autodiscover.xml"),
        data=request,
        headers={"Content-Type": "text/xml"},
        method="POST",
    )
    with urllib.request.urlopen(post, timeout=30) as reply:
        root = ET.fromstring(reply.read())
    account = root.find(f"{NS}Response/{NS}Account")
    assert account is not None
    assert account.findtext(f"{NS}Action") == "settings"
    types = set()
    for protocol in account.findall(f"{NS}Protocol"):
        kind = (protocol.findtext(f"{NS}Type") or "").lower()
        assert protocol.findtext(f"{NS}Server") == HOSTNAME
        encryption = protocol.findtext(f"{NS}Encryption")
        security = {"SSL": "SSL", "TLS": "STARTTLS", "None": "plain"}[encryption or ""]
        login = protocol.findtext(f"{NS}LoginName") or ""
        assert login == USER
        log_in(server, kind, int(protocol.findtext(f"{NS}Port") or 0), security, login)
        types.add(kind)
    assert types == {"imap", "pop3", "smtp"}


def test_plaintext_forbidden_means_no_plain_entries(tmp_path: Path) -> None:
    path = web_config(
        tmp_path,
        listeners={"imap": "127.0.0.1:0", "http": "127.0.0.1:0"},
        auth={"allow_plaintext_without_tls": False},
    )
    process = ServerProcess(path).start()
    try:
        with urllib.request.urlopen(
            http_url(process, "/mail/config-v1.1.xml"), timeout=30
        ) as reply:
            root = ET.fromstring(reply.read())
        kinds = [e.findtext("socketType") for e in root.iter("incomingServer")]
        assert kinds == ["STARTTLS"]
        log_in(process, "imap", process.ports["imap"], "STARTTLS", USER)
    finally:
        process.stop()
