"""The issue-14 extensions through IMAPClient, a widely used client library that
speaks them (SORT, THREAD, ESEARCH-style searches, STATUS items, FETCH items),
against the real server process."""

from __future__ import annotations

import time

import pytest
from imapclient import IMAPClient
from imapclient.datetime_util import parse_to_datetime

from tests.support.server import ServerProcess

MESSAGES = [
    ("1", "", "hello", "Zoe <zoe@b.example>", 1),
    ("2", "<1@t>", "Re: hello", "Adam <yann@a.example>", 2),
    ("3", "<1@t>", "Re: hello", "Carl <xavier@c.example>", 3),
    ("4", "", "another", "bob@d.example", 4),
]


@pytest.fixture
def client(mail_server: ServerProcess) -> IMAPClient:
    imap = IMAPClient("127.0.0.1", port=mail_server.ports["imap"], ssl=False, timeout=30)
    imap.login("group1_1", "group1_1")
    for mid, refs, subject, sender, day in MESSAGES:
        head = (
            f"Message-ID: <{mid}@t>\r\nDate: {day:02d} Mar 2000 12:00:00 +0000\r\n"
            f"From: {sender}\r\nSubject: {subject}\r\n"
            + (f"References: {refs}\r\n" if refs else "")
        )
        imap.append("INBOX", (head + f"\r\nHello number {mid}.\r\n").encode())
    imap.select_folder("INBOX")
    return imap


def test_capabilities_seen_by_imapclient(client: IMAPClient) -> None:
    for name in (b"SORT", b"THREAD=REFERENCES", b"ESORT", b"SEARCHRES", b"WITHIN", b"OBJECTID"):
        assert client.has_capability(name.decode())


def test_sort_and_thread(client: IMAPClient) -> None:
    assert client.sort(["REVERSE", "DATE"]) == [4, 3, 2, 1]
    assert client.sort(["SUBJECT", "ARRIVAL"]) == [4, 1, 2, 3]
    assert client.sort("DISPLAYFROM") == [2, 4, 3, 1]
    # "* THREAD (1 (2)(3))(4)" as IMAPClient parses it.
    assert client.thread("REFERENCES") == ((1, (2,), (3,)), (4,))
    assert client.thread("ORDEREDSUBJECT") == ((1, (2,), (3,)), (4,))


def test_search_status_and_fetch_items(client: IMAPClient) -> None:
    # All four were appended just now (internal date: the append time).
    assert client.search(["YOUNGER", 3600]) == [1, 2, 3, 4]
    assert client.search(["OLDER", 3600]) == []
    status = client.folder_status("INBOX", ["MESSAGES", "SIZE", "MAILBOXID"])
    assert status[b"MESSAGES"] == 4 and status[b"SIZE"] > 0
    fetched = client.fetch([1], ["PREVIEW", "SAVEDATE", "EMAILID"])[1]
    assert fetched[b"PREVIEW"] == b"Hello number 1."
    saved = parse_to_datetime(fetched[b"SAVEDATE"])
    assert abs(saved.timestamp() - time.time()) < 3600
    assert fetched[b"EMAILID"]
