"""MULTIAPPEND, BINARY and CATENATE through real client libraries against the server
process: imapclient's ``multiappend`` and ``fetch`` of BINARY items (text parts:
it cannot parse ``~{n}``), imaplib's literal parsing of ``BINARY[...]`` answers
(it reads ``~{n}`` as a literal too, NUL octets included).
CATENATE has no library support; its transcripts are in
``tests/dialogue/test_imap_append_extensions.py``."""

from __future__ import annotations

import base64
import imaplib

from imapclient import IMAPClient

from tests.integration.imap.conftest import deliver, make_message, snapshot
from tests.support.server import ServerProcess

PAYLOAD = bytes(range(256)) * 3
ATTACHED = (
    b"From: group1_2@JServer.NetLab\r\nSubject: file\r\nMIME-Version: 1.0\r\n"
    b'Content-Type: multipart/mixed; boundary="b"\r\n\r\n'
    b"--b\r\nContent-Type: text/plain\r\n\r\nsee attachment\r\n"
    b"--b\r\nContent-Type: application/octet-stream\r\nContent-Transfer-Encoding: base64\r\n\r\n"
    + base64.encodebytes(PAYLOAD).replace(b"\n", b"\r\n")
    + b"--b--\r\n"
)


def test_imapclient_multiappend_and_binary(mail_server: ServerProcess) -> None:
    client = IMAPClient(mail_server.host, mail_server.ports["imap"], ssl=False, timeout=20)
    try:
        client.login("group1_1", "group1_1")
        assert b"MULTIAPPEND" in client.capabilities()
        assert b"BINARY" in client.capabilities()
        messages = [make_message(1), {"msg": make_message(2), "flags": [b"\\Seen"]}, ATTACHED]
        # Messages without flags come after two spaces from imapclient; we accept that.
        status, (answer,) = client.multiappend("INBOX", messages)
        assert status == "OK" and answer.startswith(b"[APPENDUID ")
        assert answer.endswith(b" 1:3] Append completed")
        stored = snapshot(mail_server).messages
        assert [info.uid for info in stored] == [1, 2, 3]
        assert stored[1].flags == frozenset({"\\Seen"})
        client.select_folder("INBOX", readonly=True)
        # imapclient (4.1) cannot parse a literal8 (``~{n}``), which a part with NUL
        # octets needs (RFC 3516 4.2); imaplib can, below. Text parts go as literals.
        data = client.fetch([3], ["BINARY.SIZE[2]", "BINARY.PEEK[1]"])[3]
        assert data[b"BINARY.SIZE[2]"] == len(PAYLOAD)
        assert data[b"BINARY[1]"] == b"see attachment"
    finally:
        client.logout()


def test_imaplib_reads_binary_answers(mail_server: ServerProcess, imap: imaplib.IMAP4) -> None:
    deliver(mail_server, [ATTACHED])
    imap.select("INBOX")
    status, data = imap.fetch("1", "(BINARY.PEEK[2])")
    assert status == "OK"
    assert data[0][0].endswith(b"BINARY[2] ~{%d}" % len(PAYLOAD))
    assert data[0][1] == PAYLOAD
    status, data = imap.fetch("1", "(BINARY[1])")  # not PEEK: sets \Seen
    assert status == "OK" and data[0][1] == b"see attachment"
    assert "\\Seen" in snapshot(mail_server).messages[0].flags
