"""Lab exercise 5 against the real server process: IDLE while SMTP delivers and POP3
deletes, two clients on one account ("two PCs"), UIDPLUS values checked against
later FETCHes, and the special-use folders every new account starts with."""

from __future__ import annotations

import contextlib
import imaplib
import poplib
import re
import smtplib
from collections.abc import Iterator
from typing import Any

import pytest

from tests.integration.imap.conftest import deliver, login, make_message, snapshot
from tests.support.server import ServerProcess

ADDRESS = "group1_1@JServer.NetLab"


def ok(result: tuple[str, Any]) -> list[bytes]:
    """The plain lines of an OK answer (a literal's surrounding text is left out)."""
    typ, data = result
    assert typ == "OK", data
    return [item for item in data if isinstance(item, bytes)]


def body(pc: imaplib.IMAP4, uid: bytes | int) -> bytes:
    """``UID FETCH uid (BODY.PEEK[])`` -> the message bytes."""
    typ, data = pc.uid("FETCH", str(int(uid)), "(BODY.PEEK[])")
    assert typ == "OK", data
    literals = [item[1] for item in data if isinstance(item, tuple)]
    assert len(literals) == 1, data
    return bytes(literals[-1])


def smtp_deliver(server: ServerProcess, subject: str) -> None:
    body = f"From: group1_2@JServer.NetLab\r\nTo: {ADDRESS}\r\nSubject: {subject}\r\n\r\nhi\r\n"
    with smtplib.SMTP(server.host, server.ports["smtp"], timeout=20) as client:
        client.sendmail("group1_2@JServer.NetLab", [ADDRESS], body)


@pytest.fixture
def two_pcs(mail_server: ServerProcess) -> Iterator[tuple[imaplib.IMAP4, imaplib.IMAP4]]:
    pcs = (login(mail_server), login(mail_server))
    yield pcs
    for pc in pcs:
        with contextlib.suppress(imaplib.IMAP4.abort, imaplib.IMAP4.error, OSError):
            pc.logout()


def fetch_flags(pc: imaplib.IMAP4, uid: int) -> bytes:
    """The FETCH answer; an unsolicited FLAGS update for the same message may precede it."""
    lines = ok(pc.uid("FETCH", str(uid), "(FLAGS)"))
    assert re.match(rb"\d+ \(UID %d FLAGS" % uid, lines[-1]), lines
    return lines[-1]


# --------------------------------------------------------------- IDLE


def test_idle_sees_smtp_delivery_imap_flags_and_pop3_deletion(
    mail_server: ServerProcess,
) -> None:
    deliver(mail_server, [make_message(1)])
    watcher = login(mail_server)
    ok(watcher.select("INBOX"))
    # imaplib has no idle() before Python 3.14: speak the command on its socket.
    watcher.send(b"X1 IDLE\r\n")
    assert watcher.readline() == b"+ idling\r\n"

    smtp_deliver(mail_server, "while idling")
    assert watcher.readline() == b"* 2 EXISTS\r\n"
    assert watcher.readline() == b"* 2 RECENT\r\n"

    other = login(mail_server)
    ok(other.select("INBOX"))
    ok(other.store("1", "+FLAGS", "\\Flagged"))
    assert watcher.readline() == b"* 1 FETCH (FLAGS (\\Flagged \\Recent))\r\n"
    other.logout()

    pop = poplib.POP3(mail_server.host, mail_server.ports["pop3"], timeout=20)
    pop.user("group1_1")
    pop.pass_("group1_1")
    assert pop.stat()[0] == 2
    pop.dele(1)
    pop.quit()
    assert watcher.readline() == b"* 1 EXPUNGE\r\n"

    watcher.send(b"DONE\r\n")
    assert watcher.readline() == b"X1 OK IDLE terminated\r\n"
    [line] = ok(watcher.fetch("1:*", "(UID FLAGS)"))
    assert line == b"1 (UID 2 FLAGS (\\Recent))"
    assert [m.uid for m in snapshot(mail_server).messages] == [2]
    watcher.logout()


# ------------------------------------------------------ two clients


def test_read_on_one_pc_seen_on_the_other(
    mail_server: ServerProcess, two_pcs: tuple[imaplib.IMAP4, imaplib.IMAP4]
) -> None:
    pc1, pc2 = two_pcs
    smtp_deliver(mail_server, "first")
    smtp_deliver(mail_server, "second")
    ok(pc1.select("INBOX"))
    ok(pc2.select("INBOX"))
    ok(pc1.uid("FETCH", "1", "(BODY[])"))  # reading marks it \Seen
    ok(pc2.noop())
    assert pc2.response("FETCH") == ("FETCH", [b"1 (FLAGS (\\Seen))"])
    assert b"\\Seen" in fetch_flags(pc2, 1)
    assert b"\\Seen" not in fetch_flags(pc2, 2)
    # And back: pc2 marks the second one read, pc1 learns it at its next command.
    ok(pc2.uid("STORE", "2", "+FLAGS", "(\\Seen)"))
    assert b"\\Seen" in fetch_flags(pc1, 2)


def test_move_on_one_pc_gone_from_the_other(
    mail_server: ServerProcess, two_pcs: tuple[imaplib.IMAP4, imaplib.IMAP4]
) -> None:
    pc1, pc2 = two_pcs
    for n in range(3):
        smtp_deliver(mail_server, f"mail {n}")
    ok(pc1.select("INBOX"))
    ok(pc2.select("INBOX"))
    ok(pc1.uid("MOVE", "2", "Archive"))
    copyuid = pc1.response("COPYUID")[1][0]
    assert copyuid is not None
    validity, source, target = copyuid.split()
    assert source == b"2"
    assert ok(pc2.uid("SEARCH", "ALL")) == [b"1 3"]
    assert ok(pc2.search(None, "ALL")) == [b"1 2"]
    ok(pc2.select("Archive"))
    assert pc2.untagged_responses["UIDVALIDITY"] == [validity]
    [line] = ok(pc2.uid("FETCH", target.decode(), "(FLAGS)"))
    assert line.startswith(b"1 (UID " + target + b" FLAGS")
    assert b"Subject: mail 1" in body(pc2, target)
    # Moving again from the other PC (to Trash) and back keeps the store consistent.
    ok(pc2.uid("MOVE", target.decode(), "Trash"))
    assert len(snapshot(mail_server, folder="Archive").messages) == 0
    assert len(snapshot(mail_server, folder="Trash").messages) == 1


def test_drafts_saved_on_one_pc_visible_on_the_other(
    mail_server: ServerProcess, two_pcs: tuple[imaplib.IMAP4, imaplib.IMAP4]
) -> None:
    pc1, pc2 = two_pcs
    draft = make_message(1, subject="Draft v1")
    typ, data = pc1.append("Drafts", "(\\Draft \\Seen)", None, draft)
    assert typ == "OK"
    match = re.match(rb"\[APPENDUID (\d+) (\d+)\]", data[0] or b"")
    assert match is not None, data
    validity, uid = match.groups()
    ok(pc2.select("Drafts"))
    assert pc2.untagged_responses["UIDVALIDITY"] == [validity]
    assert b"\\Draft \\Seen" in fetch_flags(pc2, int(uid))
    assert body(pc2, uid) == draft
    # Outlook-style edit: save v2, then delete exactly v1 by UID (UIDPLUS).
    typ, data = pc1.append("Drafts", "(\\Draft \\Seen)", None, make_message(1, subject="Draft v2"))
    match2 = re.match(rb"\[APPENDUID (\d+) (\d+)\]", data[0] or b"")
    assert match2 is not None and match2.group(1) == validity
    new_uid = match2.group(2)
    ok(pc1.select("Drafts"))
    ok(pc1.uid("STORE", uid.decode(), "+FLAGS.SILENT", "(\\Deleted)"))
    ok(pc1.uid("EXPUNGE", uid.decode()))
    ok(pc2.noop())
    assert ok(pc2.uid("SEARCH", "ALL")) == [new_uid]
    assert b"Draft v2" in body(pc2, new_uid)


def test_copyuid_matches_the_copies(
    mail_server: ServerProcess, two_pcs: tuple[imaplib.IMAP4, imaplib.IMAP4]
) -> None:
    pc1, pc2 = two_pcs
    deliver(mail_server, [make_message(n) for n in range(1, 6)])
    ok(pc1.select("INBOX"))
    typ, data = pc1.copy("2:4", "Sent")
    assert typ == "OK"
    match = re.match(rb"\[COPYUID (\d+) (\S+) (\S+)\]", data[0] or b"")
    assert match is not None, data
    validity, sources, targets = match.groups()
    assert sources == b"2:4" and targets == b"1:3"
    ok(pc2.select("Sent"))
    assert pc2.untagged_responses["UIDVALIDITY"] == [validity]
    for source, target in zip((2, 3, 4), (1, 2, 3), strict=True):
        assert body(pc2, target) == body(pc1, source) == make_message(source)


# --------------------------------------------------- new accounts


def test_new_account_has_special_use_folders_subscribed(imap: imaplib.IMAP4) -> None:
    listed = ok(imap.list())
    assert listed == [
        b'(\\HasNoChildren) "/" INBOX',
        b'(\\HasNoChildren \\Archive) "/" Archive',
        b'(\\HasNoChildren \\Drafts) "/" Drafts',
        b'(\\HasNoChildren \\Junk) "/" Junk',
        b'(\\HasNoChildren \\Sent) "/" Sent',
        b'(\\HasNoChildren \\Trash) "/" Trash',
    ]
    subscribed = {line.rsplit(b" ", 1)[1] for line in ok(imap.lsub())}
    assert subscribed >= {b"Sent", b"Drafts", b"Trash", b"Junk", b"Archive"}
    assert b'""' not in b"".join(listed)
    typ, data = imap.namespace()
    assert typ == "OK" and data == [b'(("" "/")) NIL NIL']
