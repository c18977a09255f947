"""The command sequences desktop clients send (as seen in Thunderbird and Outlook logs):
list folders, download headers then bodies, mark read, move to Trash, save Sent and Drafts."""

from __future__ import annotations

from tests.integration.imap.conftest import (
    DEFAULT_LIST,
    LAB_MESSAGE,
    RawImap,
    deliver,
    folders,
    make_message,
    snapshot,
)
from tests.support.server import ServerProcess

THUNDERBIRD_FIELDS = (
    "From To Cc Bcc Subject Date Message-ID Priority X-Priority References Newsgroups "
    "In-Reply-To Content-Type Reply-To"
)


def start(server: ServerProcess) -> RawImap:
    client = RawImap(server.host, server.ports["imap"])
    client.response_line()
    return client


def test_thunderbird_like_session(mail_server: ServerProcess) -> None:
    deliver(mail_server, [make_message(1), LAB_MESSAGE])
    client = start(mail_server)
    client.ok("1 capability")
    client.ok('2 login "group1_1" "group1_1"')
    for name in ("Trash", "Sent", "Drafts"):
        # Every account starts with these (the server's default folders).
        assert client.command(f'3 create "{name}"') == [
            b"3 NO [ALREADYEXISTS] folder already exists\r\n"
        ]
        client.ok(f'4 subscribe "{name}"')
    lsub = client.ok('5 lsub "" "*"')
    assert {line.rsplit(b" ", 1)[1].strip() for line in lsub} == {
        b"INBOX",
        b"Archive",
        b"Drafts",
        b"Junk",
        b"Sent",
        b"Trash",
    }
    assert client.ok('6 list "" "INBOX"') == [b'* LIST (\\HasNoChildren) "/" INBOX\r\n']
    client.ok('7 select "INBOX"')
    assert client.ok("8 UID fetch 1:* (FLAGS)") == [
        b"* 1 FETCH (UID 1 FLAGS (\\Recent))\r\n",
        b"* 2 FETCH (UID 2 FLAGS (\\Recent))\r\n",
    ]
    headers = client.ok(
        f"9 UID fetch 1:* (UID RFC822.SIZE FLAGS BODY.PEEK[HEADER.FIELDS ({THUNDERBIRD_FIELDS})])"
    )
    assert len(headers) == 2
    assert b"Subject: Test mail 3\r\n" in headers[1]
    assert b"MIME-Version" not in headers[1]
    assert b"RFC822.SIZE %d" % len(LAB_MESSAGE) in headers[1]
    body = client.ok("10 UID fetch 2 (UID RFC822.SIZE BODY[])")
    assert LAB_MESSAGE in body[0]
    assert "\\Seen" in snapshot(mail_server).messages[1].flags
    # Delete = move to Trash: copy, mark deleted, expunge.
    client.ok('11 uid copy 1 "Trash"')
    client.ok("12 uid store 1 +Flags (\\Deleted)")
    assert client.ok("13 expunge") == [b"* 1 EXPUNGE\r\n"]
    assert [m.uid for m in snapshot(mail_server).messages] == [2]
    assert len(snapshot(mail_server, folder="Trash").messages) == 1
    # Sent copy and a draft, as APPEND with flags and a date.
    sent = make_message(5, subject="sent by me")
    client.send(b'14 APPEND "Sent" (\\Seen) {%d}' % len(sent))
    assert client.readline() == "+ Ready for literal data"
    client.send(sent)
    assert client.readline().startswith("14 OK [APPENDUID ")
    draft = make_message(6, subject="draft")
    client.send(
        b'15 APPEND "Drafts" (\\Draft \\Seen) "22-Nov-2026 08:00:00 +0000" {%d}' % len(draft)
    )
    assert client.readline() == "+ Ready for literal data"
    client.send(draft)
    assert client.readline().startswith("15 OK [APPENDUID ")
    drafts = snapshot(mail_server, folder="Drafts").messages
    assert drafts[0].flags == frozenset({"\\Draft", "\\Seen"})
    client.ok("16 close")
    client.ok("17 logout")
    client.close()


def test_outlook_like_session(mail_server: ServerProcess) -> None:
    deliver(mail_server, [LAB_MESSAGE, make_message(2)])
    client = start(mail_server)
    client.ok("A1 LOGIN group1_1 group1_1")
    listed = client.ok('A2 LIST "" "*"')
    assert listed == DEFAULT_LIST
    status = client.ok("A3 STATUS INBOX (MESSAGES UNSEEN UIDVALIDITY UIDNEXT)")
    assert status[0].startswith(b"* STATUS INBOX (MESSAGES 2 UNSEEN 2 UIDVALIDITY ")
    client.ok("A4 SELECT INBOX")
    rows = client.ok("A5 UID FETCH 1:* (UID FLAGS RFC822.SIZE INTERNALDATE BODY.PEEK[HEADER])")
    assert len(rows) == 2 and b"BODY[HEADER] {" in rows[0]
    client.ok("A6 UID FETCH 1 (BODY.PEEK[])")
    client.ok("A7 UID STORE 1 +FLAGS.SILENT (\\Seen)")
    # Archive is one of the server's default folders: it is already there.
    assert client.command("A8 CREATE Archive") == [
        b"A8 NO [ALREADYEXISTS] folder already exists\r\n"
    ]
    client.ok("A9 UID COPY 1:2 Archive")
    client.ok("A10 UID STORE 1:2 +FLAGS.SILENT (\\Deleted)")
    client.ok("A11 EXPUNGE")
    assert "Archive" in folders(mail_server)
    archived = snapshot(mail_server, folder="Archive").messages
    assert [m.flags for m in archived] == [frozenset({"\\Seen"}), frozenset()]
    client.ok("A12 LOGOUT")
    client.close()
