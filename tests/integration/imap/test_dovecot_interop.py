"""Dovecot and this server take over each other's maildirs with nothing lost.

Debian's dovecot-imapd is started by the test on loopback
(``tests/support/dovecot.py``) over a copy of one of our users' maildirs,
and the other way round: our server over a maildir Dovecot wrote. Both are
asked the same questions with ``imaplib`` and must give the same answers:
UIDs, UIDVALIDITY, UIDNEXT, flags and keywords, SORT and THREAD results.
"""

from __future__ import annotations

import imaplib
import re
import shutil

import pytest

from tests.support import dovecot
from tests.support.server import ServerProcess

pytestmark = pytest.mark.skipif(
    not dovecot.available(), reason="needs Debian's dovecot-imapd and root (to set mail_uid)"
)

# (message-id, references, subject, from, date day, flags)
MESSAGES = [
    ("1", "", "hello", "Zoe <zoe@b.example>", 1, r"(\Seen)"),
    ("2", "<1>", "Re: hello", "Adam <yann@a.example>", 2, r"(\Answered $Label1)"),
    ("3", "<1>", "RE: [list] hello", "Carl <xavier@c.example>", 3, "()"),
    ("4", "<1> <2>", "Re: Re: hello", "bob@d.example", 4, r"(\Flagged Work)"),
    ("5", "", "other", "=?utf-8?q?=C3=89mile?= <w@e.example>", 5, r"(\Seen $Label1 Work)"),
    ("6", "<gone>", "Re: lost", "Dora <v@f.example>", 6, r"(\Draft)"),
    ("7", "<gone>", "Re: lost (fwd)", "eve@g.example", 7, "()"),
    ("8", "", "Re: other", '"Fay" <u@h.example>', 8, r"(\Deleted)"),
    ("9", "<8>", "[Fwd: other]", "Gus <t@i.example>", 9, "()"),
]
#: Harder cases: no Date or Message-ID, a duplicate Message-ID, In-Reply-To only,
#: no Subject or From at all, a reference loop.
EXTRA = [
    b"From: Hal <s@j.example>\r\nSubject: Fwd: hello (fwd)\r\n\r\nno date\r\n",
    b"Message-ID: <1@interop.example>\r\nDate: 10 Mar 2000 12:00:00 +0000\r\n"
    b"Subject: hello\r\nFrom: ida@k.example\r\n\r\nduplicate id\r\n",
    b"Message-ID: <irt@interop.example>\r\nDate: 11 Mar 2000 12:00:00 +0000\r\n"
    b"In-Reply-To: <6@interop.example>\r\nSubject: lost again\r\n\r\nirt\r\n",
    b"Date: 12 Mar 2000 12:00:00 -0800\r\n\r\nnothing\r\n",
    b"Message-ID: <la@interop.example>\r\nReferences: <lb@interop.example>\r\n"
    b"Date: 13 Mar 2000 12:00:00 +0000\r\nSubject: loop\r\n\r\na\r\n",
    b"Message-ID: <lb@interop.example>\r\nReferences: <la@interop.example>\r\n"
    b"Date: 14 Mar 2000 12:00:00 +0000\r\nSubject: Re: loop\r\n\r\nb\r\n",
    # Collation (i;unicode-casemap): accents after the plain letter, "ß" kept, "_" after "Z".
    b"Subject: =?utf-8?q?=C3=84gypten?=\r\nFrom: =?utf-8?q?=C3=89mile?= <e@x.example>\r\n\r\n1\r\n",
    b"Subject: Apfel\r\nFrom: Eve <f@x.example>\r\n\r\n2\r\n",
    b"Subject: =?utf-8?q?stra=C3=9Fe?=\r\nFrom: _under <g@x.example>\r\n\r\n3\r\n",
    b"Subject: STRASSE\r\nFrom: =?utf-8?q?=C3=A9clair?= <h@x.example>\r\n\r\n4\r\n",
    b"Subject: _under\r\nFrom: Zed <i@x.example>\r\n\r\n5\r\n",
]
QUESTIONS = (
    "UID SORT (ARRIVAL) UTF-8 ALL",
    "UID SORT (SUBJECT) UTF-8 ALL",
    "UID SORT (REVERSE DATE) UTF-8 ALL",
    "UID SORT (FROM) UTF-8 ALL",
    "UID SORT (DISPLAYFROM) UTF-8 ALL",
    "UID SORT (TO SIZE) UTF-8 ALL",
    "UID SORT (CC REVERSE ARRIVAL) UTF-8 ALL",
    "UID THREAD ORDEREDSUBJECT UTF-8 ALL",
    "UID THREAD REFERENCES UTF-8 ALL",
    "UID THREAD REFERENCES UTF-8 UNDELETED",
    "UID THREAD REFS UTF-8 ALL",
    "UID SEARCH FROM example UNSEEN",
)
#: Asked raw (ESEARCH answers, literals): compared line by line, tags masked.
RAW_QUESTIONS = (
    "UID SORT RETURN (MIN MAX COUNT ALL) (SUBJECT) UTF-8 ALL",
    "SORT RETURN (PARTIAL 2:4) (REVERSE DATE) UTF-8 ALL",
    "UID SEARCH RETURN (PARTIAL 1:3 COUNT) UNDELETED",
    "UID SEARCH RETURN (MIN MAX) FROM example",
    "SEARCH RETURN (SAVE) FLAGGED",
    "UID SEARCH $",
    "UID SEARCH YOUNGER 999999999 NOT OLDER 999999999",
    "UID FETCH 1:* (PREVIEW)",
    "STATUS INBOX (MESSAGES SIZE)",
)


def message(mid: str, refs: str, subject: str, sender: str, day: int) -> bytes:
    lines = [
        f"Message-ID: <{mid}@interop.example>".replace("<gone@", "<gone@"),
        f"Date: {day:02d} Mar 2000 12:00:00 +0000",
        f"From: {sender}",
        f"To: to{10 - day}@x.example",
        f"Subject: {subject}",
    ]
    if refs:
        ids = " ".join(f"<{r.strip('<>')}@interop.example>" for r in refs.split())
        lines.append(f"References: {ids}")
    return ("\r\n".join(lines) + f"\r\n\r\nbody {mid}\r\n").encode()


def fill(client: imaplib.IMAP4) -> None:
    """The same mail, put in the same way, on either server."""
    assert client.create("Work")[0] == "OK"
    for mid, refs, subject, sender, day, flags in MESSAGES:
        data = message(mid, refs, subject, sender, day)
        date = f'"{day:02d}-Mar-2000 12:00:00 +0000"'
        assert client.append("INBOX", flags, date, data)[0] == "OK"
    for n, data in enumerate(EXTRA):
        date = f'"{20 + n:02d}-Mar-2000 12:00:00 +0000"'
        assert client.append("INBOX", "()", date, data)[0] == "OK"
    assert client.append("Work", r"(\Seen Work)", None, message("w", "", "w", "a@b", 1))[0] == "OK"
    client.select("INBOX")
    client.uid("STORE", "3", "+FLAGS", r"($Label2)")
    client.uid("STORE", "7", "+FLAGS", r"(\Deleted)")
    client.expunge()  # UIDs 7 and 8 go: the rest keep theirs, with a gap
    client.uid("STORE", "9", "+FLAGS", r"(\Deleted)")  # stays: UNSELECT, not CLOSE
    client.unselect()


def answers(client: imaplib.IMAP4) -> dict[str, object]:
    out: dict[str, object] = {}
    for folder in ("INBOX", "Work"):
        status, data = client.status(folder, "(MESSAGES UIDNEXT UIDVALIDITY)")
        assert status == "OK", data
        out[f"STATUS {folder}"] = data[0].split(b" ", 1)[1] if data[0] else data
        client.select(folder, readonly=True)
        status, data = client.uid("FETCH", "1:*", "(FLAGS)")
        assert status == "OK", data
        out[f"FLAGS {folder}"] = sorted(_flags(line) for line in data if line)
        if folder == "INBOX":
            for question in QUESTIONS:
                verb, rest = question.split(" ", 2)[1], question.split(" ", 2)[2]
                status, data = client.uid(verb, *rest.split(" ", 2))
                assert status == "OK", (question, data)
                out[question] = b" ".join(d for d in data if d)
            for question in RAW_QUESTIONS:
                out[question] = raw(client, question)
        client.close()
    return out


def raw(client: imaplib.IMAP4, line: str) -> list[bytes]:
    """Untagged answer lines of one command sent as is, its tag masked."""
    tag = client._new_tag()  # type: ignore[attr-defined]
    client.send(tag + b" " + line.encode() + b"\r\n")
    lines = []
    while not (got := client.readline()).startswith(tag + b" "):
        lines.append(got.replace(b'"' + tag + b'"', b'"TAG"'))
    assert got.startswith(tag + b" OK"), (line, got)
    return lines


def _flags(line: bytes) -> tuple[int, tuple[str, ...]]:
    match = re.search(rb"UID (\d+)", line)
    flags = re.search(rb"FLAGS \(([^)]*)\)", line)
    assert match and flags, line
    names = [f for f in flags.group(1).decode().split() if f != "\\Recent"]
    return int(match.group(1)), tuple(sorted(names))


def ours(server: ServerProcess, user: str) -> imaplib.IMAP4:
    client = imaplib.IMAP4("127.0.0.1", server.ports["imap"], timeout=30)
    client.login(user, user)
    return client


def test_dovecot_reads_our_maildir(mail_server: ServerProcess) -> None:
    client = ours(mail_server, "group1_1")
    fill(client)
    expected = answers(client)
    client.logout()
    with dovecot.workdir() as work:
        copy = work / "copy"
        shutil.copytree(mail_server.maildir("group1_1"), copy)
        with dovecot.dovecot(work / "dovecot", copy, "group1_1", "pw") as port:
            theirs = dovecot.login(port, "group1_1", "pw")
            got = answers(theirs)
            theirs.logout()
    assert got == expected


def test_we_read_dovecots_maildir(mail_server: ServerProcess) -> None:
    with dovecot.workdir() as work:
        written = work / "mail"
        for sub in ("cur", "new", "tmp"):
            (written / sub).mkdir(parents=True)
        with dovecot.dovecot(work / "dovecot", written, "group1_2", "pw") as port:
            theirs = dovecot.login(port, "group1_2", "pw")
            fill(theirs)
            expected = answers(theirs)
            theirs.logout()
        target = mail_server.maildir("group1_2")
        shutil.rmtree(target, ignore_errors=True)
        shutil.copytree(written, target)
    client = ours(mail_server, "group1_2")
    got = answers(client)
    client.logout()
    assert got == expected
