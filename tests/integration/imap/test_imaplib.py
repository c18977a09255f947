"""Every command through Python's imaplib, checked on the server side through the store."""

from __future__ import annotations

import base64
import imaplib
import time

import pytest

from tests.integration.imap.conftest import (
    LAB_MESSAGE,
    deliver,
    folders,
    make_message,
    snapshot,
)
from tests.support.server import ServerProcess


def ok(result: tuple[str, list]) -> list:
    status, data = result
    assert status == "OK", data
    return data


def test_capability_noop_logout(mail_server: ServerProcess) -> None:
    client = imaplib.IMAP4(mail_server.host, mail_server.ports["imap"], timeout=20)
    assert "IMAP4REV1" in client.capabilities
    assert "LITERAL-" in client.capabilities and "AUTH=PLAIN" in client.capabilities
    ok(client.noop())
    ok(client.login("group1_1", "group1_1"))
    ok(client.noop())
    assert client.logout()[0] == "BYE"


def test_login_by_address_and_bad_password(mail_server: ServerProcess) -> None:
    client = imaplib.IMAP4(mail_server.host, mail_server.ports["imap"], timeout=20)
    with pytest.raises(imaplib.IMAP4.error, match="AUTHENTICATIONFAILED"):
        client.login("group1_1", "nope")
    ok(client.login("group1_1@JServer.NetLab", "group1_1"))
    client.logout()


def test_authenticate_plain_and_login(mail_server: ServerProcess) -> None:
    plain = imaplib.IMAP4(mail_server.host, mail_server.ports["imap"], timeout=20)
    ok(plain.authenticate("PLAIN", lambda _: b"\0group1_2\0group1_2"))
    assert plain.state == "AUTH"
    plain.logout()

    answers = iter([b"group1_3", b"group1_3"])
    login_mech = imaplib.IMAP4(mail_server.host, mail_server.ports["imap"], timeout=20)
    ok(login_mech.authenticate("LOGIN", lambda _: next(answers)))
    login_mech.logout()

    wrong = imaplib.IMAP4(mail_server.host, mail_server.ports["imap"], timeout=20)
    with pytest.raises(imaplib.IMAP4.error):
        wrong.authenticate("PLAIN", lambda _: b"\0group1_2\0bad")
    wrong.logout()


def test_sasl_ir_and_cancel_on_raw_socket(mail_server: ServerProcess) -> None:
    from tests.integration.imap.conftest import RawImap

    client = RawImap(mail_server.host, mail_server.ports["imap"])
    client.response_line()
    client.send("a1 AUTHENTICATE PLAIN")
    assert client.readline() == "+ "
    client.send("*")
    assert client.readline() == "a1 BAD Authentication cancelled"
    client.send("a2 AUTHENTICATE LOGIN")
    assert client.readline() == "+ VXNlcm5hbWU6"
    client.send("not base64!")
    assert client.readline().startswith("a2 BAD")
    token = base64.b64encode(b"\0group1_1\0group1_1").decode()
    assert client.command(f"a3 AUTHENTICATE PLAIN {token}")[-1].startswith(b"a3 OK [CAPABILITY")
    client.close()


def test_select_examine_status(mail_server: ServerProcess, imap: imaplib.IMAP4) -> None:
    deliver(mail_server, [make_message(1), make_message(2)])
    # Delivered with a flag, straight into cur/: not \Recent for anyone.
    deliver(mail_server, [make_message(3)], flags=["\\Seen"])
    assert ok(imap.select("INBOX")) == [b"3"]
    assert imap.untagged_responses.get("RECENT") == [b"2"]
    assert imap.untagged_responses.get("UNSEEN") == [b"1"]
    assert imap.untagged_responses.get("UIDNEXT") == [b"4"]
    status = ok(imap.status("INBOX", "(MESSAGES RECENT UIDNEXT UIDVALIDITY UNSEEN)"))[0]
    assert b"MESSAGES 3" in status and b"UIDNEXT 4" in status and b"UNSEEN 2" in status
    assert b"RECENT 2" in status  # this session holds them
    ok(imap.close())

    status, data = imap.select("INBOX", readonly=True)
    assert status == "OK" and data == [b"3"]
    assert imap.untagged_responses.get("READ-ONLY") == [b""]
    status, data = imap.store("1", "+FLAGS", "\\Deleted")
    assert status == "NO" and b"READ-ONLY" in data[0]
    # A read-only body fetch does not set \Seen.
    ok(imap.fetch("1", "(BODY[])"))
    assert "\\Seen" not in snapshot(mail_server).messages[0].flags
    status, data = imap.select("Nonexistent")
    assert status == "NO" and b"NONEXISTENT" in data[0]
    assert imap.state == "AUTH"


def test_fetch_items(mail_server: ServerProcess, imap: imaplib.IMAP4) -> None:
    when = time.mktime((2020, 3, 5, 10, 20, 30, 0, 0, -1))
    deliver(mail_server, [LAB_MESSAGE])
    imap.append("INBOX", "", imaplib.Time2Internaldate(when), make_message(2))
    imap.select("INBOX")
    data = ok(imap.fetch("1:2", "(UID FLAGS INTERNALDATE RFC822.SIZE)"))
    assert f"RFC822.SIZE {len(LAB_MESSAGE)}".encode() in data[0]
    assert b'INTERNALDATE "05-Mar-2020 10:20:30 ' in data[1]
    assert imaplib.Internaldate2tuple(data[1]) == time.localtime(when)
    whole = ok(imap.fetch("1", "(RFC822)"))
    assert whole[0][1] == LAB_MESSAGE
    header = ok(imap.fetch("1", "(RFC822.HEADER)"))[0][1]
    assert header == LAB_MESSAGE.split(b"\r\n\r\n", 1)[0] + b"\r\n\r\n"
    text = ok(imap.fetch("1", "(RFC822.TEXT)"))[0][1]
    assert text == LAB_MESSAGE.split(b"\r\n\r\n", 1)[1]
    partial = ok(imap.fetch("1", "(BODY.PEEK[]<0.10>)"))[0]
    assert partial[0].endswith(b"BODY[]<0> {10}") and partial[1] == LAB_MESSAGE[:10]
    beyond = ok(imap.fetch("1", "(BODY.PEEK[]<100000.10>)"))[0]
    assert beyond[0].endswith(b"BODY[]<100000> {0}") or b'BODY[]<100000> ""' in beyond
    nested = ok(imap.fetch("1", "(BODY.PEEK[1.2])"))[0][1]
    assert nested == b"<p>This is a test mail!</p>"
    not_fields = ok(imap.fetch("1", "(BODY.PEEK[HEADER.FIELDS.NOT (MESSAGE-ID DATE TO)])"))
    assert b"Subject: Test mail 3" in not_fields[0][1] and b"Message-ID" not in not_fields[0][1]
    for macro in ("ALL", "FAST", "FULL"):
        assert b"RFC822.SIZE" in ok(imap.fetch("1", macro))[0]
    body = ok(imap.fetch("1", "(BODY)"))[0]
    assert b"BODY ((" in body and b"BODYSTRUCTURE" not in body
    envelope = ok(imap.fetch("2", "(ENVELOPE)"))[0]
    assert b'"Test mail 2"' in envelope


def test_fetch_of_many_small_and_some_big_messages_keeps_order(
    mail_server: ServerProcess, imap: imaplib.IMAP4
) -> None:
    """Small responses are written in batches, big ones alone: every response
    still arrives whole and in sequence order."""
    big = b"x" * 99 + b"\r\n"
    messages = [make_message(n, body=big * 1000 if n % 50 == 7 else b"") for n in range(1, 301)]
    deliver(mail_server, messages)
    imap.select("INBOX", readonly=True)
    data = ok(imap.fetch("1:*", "(UID BODY.PEEK[])"))
    bodies = [item[1] for item in data if isinstance(item, tuple)]
    assert bodies == messages
    flags = ok(imap.fetch("1:*", "(FLAGS)"))
    assert [int(line.split()[0]) for line in flags] == list(range(1, 301))


def test_body_fetch_sets_seen_and_peek_does_not(
    mail_server: ServerProcess, imap: imaplib.IMAP4
) -> None:
    deliver(mail_server, [make_message(1), make_message(2)])
    imap.select("INBOX")
    ok(imap.fetch("1", "(BODY.PEEK[TEXT])"))
    assert all("\\Seen" not in m.flags for m in snapshot(mail_server).messages)
    data = ok(imap.fetch("2", "(BODY[TEXT])"))
    # The implicit \Seen comes back as FLAGS in the same response.
    assert b"FLAGS (\\Seen \\Recent)" in data[0][0] + data[1]
    assert ["\\Seen" in m.flags for m in snapshot(mail_server).messages] == [False, True]
    ok(imap.uid("FETCH", "1", "(RFC822)"))
    assert all("\\Seen" in m.flags for m in snapshot(mail_server).messages)


def test_store_forms_and_keywords(mail_server: ServerProcess, imap: imaplib.IMAP4) -> None:
    deliver(mail_server, [make_message(1), make_message(2)])
    imap.select("INBOX")
    data = ok(imap.store("1:2", "+FLAGS", "(\\Flagged $Label1)"))
    assert b"FLAGS (" in data[0] and b"$Label1" in data[0]
    ok(imap.store("1", "-FLAGS", "\\Flagged"))
    assert ok(imap.store("2", "FLAGS.SILENT", "(\\Answered)")) == [None]
    flags = [m.flags for m in snapshot(mail_server).messages]
    assert flags == [frozenset({"$Label1"}), frozenset({"\\Answered"})]
    data = ok(imap.uid("STORE", "2", "+FLAGS", "(\\Seen)"))
    assert b"UID 2" in data[0]
    # The keyword is offered in FLAGS at the next SELECT.
    imap.select("INBOX")
    assert b"$Label1" in imap.untagged_responses["FLAGS"][0]
    with pytest.raises(imaplib.IMAP4.error, match="Invalid system flag"):
        imap.store("1", "+FLAGS", "(\\Bogus)")


def test_search_keys(mail_server: ServerProcess, imap: imaplib.IMAP4) -> None:
    deliver(
        mail_server,
        [
            make_message(1, subject="hello world"),
            make_message(2, body=b"Needle in the body\r\n"),
            LAB_MESSAGE,
        ],
    )
    imap.select("INBOX")
    imap.store("1", "+FLAGS", "(\\Seen \\Flagged)")
    assert ok(imap.search(None, "ALL")) == [b"1 2 3"]
    assert ok(imap.search(None, "SEEN")) == [b"1"]
    assert ok(imap.search(None, "UNSEEN")) == [b"2 3"]
    assert ok(imap.search(None, "NEW")) == [b"2 3"]
    assert ok(imap.search(None, "OLD")) == [b""]
    assert ok(imap.search(None, "OR FLAGGED SUBJECT", '"Test mail 3"')) == [b"1 3"]
    assert ok(imap.search(None, "NOT FLAGGED")) == [b"2 3"]
    assert ok(imap.search(None, "SUBJECT", "HELLO")) == [b"1"]
    assert ok(imap.search(None, "FROM", "group6_6")) == [b"3"]
    assert ok(imap.search(None, "BODY", "needle")) == [b"2"]
    assert ok(imap.search(None, "TEXT", "needle")) == [b"2"]
    assert ok(imap.search(None, "HEADER", "Message-ID", "lab-1")) == [b"3"]
    assert ok(imap.search(None, "LARGER", "500")) == [b"3"]
    assert ok(imap.search(None, "SMALLER", "500")) == [b"1 2"]
    assert ok(imap.search(None, "2:*")) == [b"2 3"]
    assert ok(imap.uid("SEARCH", "UID", "2:3")) == [b"2 3"]
    assert ok(imap.search(None, "SENTON", "7-Feb-1994")) == [b"3"]
    assert ok(imap.search(None, "SENTBEFORE", "1-Jan-2000")) == [b"3"]
    assert ok(imap.search(None, "SINCE", "1-Jan-2000")) == [b"1 2 3"]
    assert ok(imap.search(None, "BEFORE", "1-Jan-2000")) == [b""]
    assert ok(imap.search("UTF-8", "SUBJECT", "world")) == [b"1"]
    status, data = imap.search("KOI8-R", "ALL")
    assert status == "NO" and b"BADCHARSET" in data[0]


def test_copy_expunge_close(mail_server: ServerProcess, imap: imaplib.IMAP4) -> None:
    deliver(mail_server, [make_message(1), make_message(2), make_message(3)])
    ok(imap.create("Saved"))
    imap.select("INBOX")
    ok(imap.copy("1:2", "Saved"))
    assert len(snapshot(mail_server, folder="Saved").messages) == 2
    status, data = imap.copy("1", "Missing")
    assert status == "NO" and b"TRYCREATE" in data[0]
    ok(imap.store("1,3", "+FLAGS", "(\\Deleted)"))
    # Sequence numbers shift after each EXPUNGE: messages 1 and 3 are "1" then "2".
    assert ok(imap.expunge()) == [b"1", b"2"]
    assert [m.uid for m in snapshot(mail_server).messages] == [2]
    ok(imap.store("1", "+FLAGS", "(\\Deleted)"))
    ok(imap.close())
    assert snapshot(mail_server).messages == ()
    ok(imap.select("Saved"))
    ok(imap.uid("COPY", "1:*", "INBOX"))
    assert len(snapshot(mail_server).messages) == 2


def test_mailbox_management(mail_server: ServerProcess, imap: imaplib.IMAP4) -> None:
    ok(imap.create("Projects/2024"))
    ok(imap.create("Receipts"))
    status, data = imap.create("Receipts")
    assert status == "NO" and b"ALREADYEXISTS" in data[0]
    listed = ok(imap.list())
    assert b'(\\HasNoChildren) "/" INBOX' in listed
    assert any(b'"/" Projects/2024' in line for line in listed)
    top = ok(imap.list("", "%"))
    assert any(b'"/" Projects' in line and b"\\HasChildren" in line for line in top)
    assert not any(b"2024" in line for line in top)
    assert ok(imap.list('""', '""')) == [b'(\\Noselect) "/" ""']
    assert ok(imap.list("Projects/", "%")) == [b'(\\HasNoChildren) "/" Projects/2024']
    ok(imap.rename("Projects/2024", "Projects/2025"))
    assert "Projects/2025" in folders(mail_server)
    # New accounts start with INBOX and the special-use folders subscribed.
    before = ok(imap.lsub())
    assert b'() "/" INBOX' in before and b'() "/" Sent' in before
    ok(imap.subscribe("Receipts"))
    assert sorted(ok(imap.lsub())) == sorted([*before, b'() "/" Receipts'])
    ok(imap.unsubscribe("Receipts"))
    assert sorted(ok(imap.lsub())) == sorted(before)
    ok(imap.delete("Receipts"))
    assert "Receipts" not in folders(mail_server)
    status, data = imap.delete("INBOX")
    assert status == "NO"
    status, data = imap.delete("Nope")
    assert status == "NO" and b"NONEXISTENT" in data[0]


def test_rename_inbox_moves_messages(mail_server: ServerProcess, imap: imaplib.IMAP4) -> None:
    deliver(mail_server, [make_message(1), make_message(2)])
    ok(imap.rename("INBOX", "Old"))
    assert len(snapshot(mail_server, folder="Old").messages) == 2
    assert snapshot(mail_server).messages == ()


def test_unicode_folder_names(mail_server: ServerProcess, imap: imaplib.IMAP4) -> None:
    ok(imap.create("&ZeVnLIqe-"))  # 日本語 in modified UTF-7
    assert "日本語" in folders(mail_server)
    assert any(b"&ZeVnLIqe-" in line for line in ok(imap.list()))
    ok(imap.select("&ZeVnLIqe-"))


def test_append_variants(mail_server: ServerProcess, imap: imaplib.IMAP4) -> None:
    ok(imap.append("INBOX", "(\\Seen \\Draft)", None, make_message(1)))
    ok(imap.append("inbox", None, None, make_message(2).replace(b"\r\n", b"\n")))
    status, data = imap.append("Templates", None, None, make_message(3))
    assert status == "NO" and b"TRYCREATE" in data[0]
    messages = snapshot(mail_server).messages
    assert messages[0].flags == frozenset({"\\Seen", "\\Draft"})
    assert len(messages) == 2
    imap.select("INBOX")
    assert ok(imap.fetch("2", "(BODY.PEEK[])"))[0][1] == make_message(2)
