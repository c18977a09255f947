"""BURL (RFC 4468) end to end with real clients against the server process: imaplib
saves a draft and asks for a URLAUTH URL (GENURLAUTH), smtplib submits it on the
submission port with ``BURL <url> LAST``; the recipient gets the draft's text,
uploaded only once. URLs that are forged, for another user or revoked fail with
``554 5.6.6`` and the session goes on."""

from __future__ import annotations

import imaplib
import re
import smtplib
from collections.abc import Callable

import pytest

from tests.integration.imap.conftest import snapshot, store_of
from tests.support.server import ServerProcess

DRAFT = (
    b"From: group1_1@JServer.NetLab\r\nTo: group1_2@JServer.NetLab\r\n"
    b"Subject: sent by reference\r\n\r\nWritten once, uploaded once.\r\n"
)
TIMEOUT = 20


def genurlauth(imap: imaplib.IMAP4, rump: str) -> str:
    status, data = imap._simple_command("GENURLAUTH", f'"{rump}"', "INTERNAL")
    assert status == "OK", data
    _, lines = imap._untagged_response(status, data, "GENURLAUTH")
    match = re.fullmatch(rb'"(.*)"', lines[0])
    assert match is not None, lines
    return match.group(1).decode()


def submit(server: ServerProcess, user: str = "group1_1") -> smtplib.SMTP:
    client = smtplib.SMTP(server.host, server.ports["submission"], timeout=TIMEOUT)
    client.ehlo("pc")
    assert client.has_extn("burl") and client.esmtp_features["burl"] == "imap"
    client.login(user, user)
    assert client.mail(f"{user}@JServer.NetLab")[0] == 250
    assert client.rcpt("group1_2@JServer.NetLab")[0] == 250
    return client


def inbox_of(server: ServerProcess, user: str) -> list[bytes]:
    import asyncio

    async def run() -> list[bytes]:
        folder = await (await store_of(server).mailbox(user)).folder("INBOX")
        return [await folder.read(info.uid) for info in (await folder.snapshot()).messages]

    return asyncio.run(run())


def test_burl_submits_a_draft_by_url(
    server_factory: Callable[..., ServerProcess], monkeypatch: pytest.MonkeyPatch
) -> None:
    # imaplib runs only commands it knows; these two it can send as they are.
    for name in ("GENURLAUTH", "RESETKEY"):
        monkeypatch.setitem(imaplib.Commands, name, ("AUTH", "SELECTED"))
    server = server_factory(listeners={"imap": "127.0.0.1:0", "submission": "127.0.0.1:0"})
    imap = imaplib.IMAP4(server.host, server.ports["imap"], timeout=TIMEOUT)
    imap.login("group1_1", "group1_1")
    assert "URLAUTH" in imap.capabilities
    status, data = imap.append("Drafts", "(\\Draft)", None, DRAFT)
    assert status == "OK", data
    uidvalidity = snapshot(server, folder="Drafts").uidvalidity
    base = f"imap://group1_1@JServer.NetLab/Drafts;UIDVALIDITY={uidvalidity}/;UID=1"
    url = genurlauth(imap, base + ";URLAUTH=submit+group1_1")

    client = submit(server)
    assert client.docmd("BURL", url + " LAST")[0] == 250
    [received] = inbox_of(server, "group1_2")
    # Delivered like any submitted message: trace fields, Date and Message-ID added.
    assert received.startswith(b"Return-Path: <group1_1@JServer.NetLab>\r\nReceived: ")
    assert b"\r\nSubject: sent by reference\r\n" in received
    assert received.endswith(b"\r\n\r\nWritten once, uploaded once.\r\n")

    # A forged token, and a SECTION (no MIME parser on the SMTP side), fail.
    forged = url[:-2] + ("00" if not url.endswith("00") else "11")
    section = genurlauth(imap, base + "/;SECTION=TEXT;URLAUTH=submit+group1_1")
    for bad in (forged, section):
        assert client.mail("group1_1@JServer.NetLab")[0] == 250
        assert client.rcpt("group1_2@JServer.NetLab")[0] == 250
        code, text = client.docmd("BURL", bad + " LAST")
        assert (code, text) == (554, b"5.6.6 IMAP URL resolution failed")
    # The transaction is gone; a new one works, in two BURL pieces.
    assert client.docmd("BURL", url)[0] == 503
    assert client.mail("group1_1@JServer.NetLab")[0] == 250
    assert client.rcpt("group1_2@JServer.NetLab")[0] == 250
    assert client.docmd("BURL", url)[0] == 250
    assert client.docmd("BURL", url + " LAST")[0] == 250
    assert inbox_of(server, "group1_2")[-1].endswith(b"uploaded once.\r\n" + DRAFT)
    client.quit()

    # group1_2 may not send group1_1's submit+group1_1 URL.
    other = submit(server, "group1_2")
    assert other.docmd("BURL", url + " LAST")[0] == 554
    other.quit()

    # RESETKEY revokes it.
    status, data = imap._simple_command("RESETKEY")
    assert status == "OK", data
    client = submit(server)
    assert client.docmd("BURL", url + " LAST")[0] == 554
    client.quit()
    imap.logout()
    assert "Traceback" not in server.log()
