"""Seeded generator of hostile IMAP command lines for the parser and session fuzz tests.

Inputs start from a corpus of valid commands (every verb the server knows,
with literals, nested search keys, extended LIST, SORT, THREAD ...) and are
mutated: bytes flipped, inserted, deleted, duplicated, spliced with another
command, numbers made huge, brackets nested deeply, literals given wrong
lengths. Runs are reproducible: ``IMAP_FUZZ_SEED`` picks the seed (default
fixed) and ``IMAP_FUZZ_ITERATIONS`` scales how many inputs a test makes,
so ``IMAP_FUZZ_ITERATIONS=1000000`` is a long run on demand.
"""

from __future__ import annotations

import os
import random

SEED = int(os.environ.get("IMAP_FUZZ_SEED", "20261206"))
#: Parser inputs per CI run; the socket fuzz uses a fraction of it.
ITERATIONS = int(os.environ.get("IMAP_FUZZ_ITERATIONS", "100000"))

CORPUS: tuple[bytes, ...] = (
    b"a CAPABILITY",
    b"a NOOP",
    b"a LOGIN group1_1 group1_1",
    b"a LOGIN {8}\r\ngroup1_1 {8}\r\ngroup1_1",
    b"a AUTHENTICATE PLAIN AGdyb3VwMV8xAGdyb3VwMV8x",
    b"a SELECT INBOX (CONDSTORE)",
    b"a SELECT INBOX (QRESYNC (67890007 20050715194045000 41,43:211,214:541))",
    b'a EXAMINE "INBOX"',
    b"a CREATE work/2026",
    b'a CREATE "Entw&APw-rfe"',
    b"a DELETE work",
    b'a RENAME "a b" {3}\r\nc d',
    b"a SUBSCRIBE INBOX",
    b"a UNSUBSCRIBE INBOX",
    b'a LIST "" *',
    b'a LIST "" %/%',
    b'a LIST (SUBSCRIBED RECURSIVEMATCH) "" (INBOX* "Sent") '
    b"RETURN (CHILDREN STATUS (MESSAGES UNSEEN))",
    b'a LIST (SPECIAL-USE) "" * RETURN (SPECIAL-USE)',
    b'a LSUB "" *',
    b"a STATUS INBOX (MESSAGES RECENT UIDNEXT UIDVALIDITY UNSEEN HIGHESTMODSEQ)",
    b'a APPEND INBOX (\\Seen $Label) "06-Dec-2026 04:24:55 +0000" {12+}\r\nSubject: x\r\n',
    b"a APPEND INBOX UTF8 (~{5+}\r\nhello)",
    b'a SEARCH CHARSET UTF-8 OR FROM "a b" (TO c SINCE 1-Jan-2020) NOT BODY {3}\r\nxyz',
    b'a SEARCH RETURN (MIN MAX COUNT ALL) UNSEEN MODSEQ "/flags/\\\\draft" all 620162338',
    b"a UID SEARCH UID 1:*,5 LARGER 10 SMALLER 99999 HEADER X-Spam yes",
    b"a SEARCH 2:4,7 KEYWORD $Forwarded UNKEYWORD x SENTBEFORE 2-Feb-2020",
    b"a FETCH 1:* (FLAGS UID RFC822.SIZE INTERNALDATE ENVELOPE BODYSTRUCTURE)",
    b"a FETCH 1 (BODY.PEEK[1.2.HEADER.FIELDS (From To)]<0.100> BODY[TEXT])",
    b"a UID FETCH 1:* (FLAGS) (CHANGEDSINCE 12345 VANISHED)",
    b"a FETCH 1:4 FAST",
    b"a STORE 1:3 +FLAGS.SILENT (\\Deleted \\Seen)",
    b"a UID STORE 5 (UNCHANGEDSINCE 320162338) FLAGS $Junk",
    b"a COPY 1:2 Trash",
    b"a UID MOVE 3:* {5}\r\nTrash",
    b"a UID EXPUNGE 1:4",
    b"a EXPUNGE",
    b"a CHECK",
    b"a ENABLE CONDSTORE QRESYNC UTF8=ACCEPT",
    b'a ID ("name" "sodr" "version" NIL)',
    b"a ID NIL",
    b'a GETQUOTA ""',
    b"a GETQUOTAROOT INBOX",
    b'a SETQUOTA "" (STORAGE 512)',
    b"a NAMESPACE",
    b"a SORT (REVERSE DATE SUBJECT DISPLAYFROM) UTF-8 ALL",
    b"a UID SORT RETURN (MIN MAX ALL COUNT) (ARRIVAL) US-ASCII OR SEEN (FLAGGED)",
    b"a THREAD REFERENCES UTF-8 SINCE 5-MAR-2000",
    b"a UID THREAD ORDEREDSUBJECT US-ASCII TEXT gewp",
    b"a SEARCH RETURN (SAVE MIN) YOUNGER 3600 OLDER 60 EMAILID M1234 THREADID T1",
    b"a UID SEARCH RETURN (UPDATE PARTIAL 1:10 CONTEXT COUNT) $ SAVEDSINCE 1-Jan-2020",
    b"a SORT RETURN (UPDATE PARTIAL 5:1) (DISPLAYTO) UTF-8 SAVEDATESUPPORTED",
    b'a CANCELUPDATE "a" {1}\r\nb',
    b"a FETCH $ (PREVIEW (LAZY) SAVEDATE EMAILID THREADID SNIPPET (FUZZY))",
    b"a STORE $ +FLAGS (\\Seen)",
    b"a CREATE Sent2 (USE (\\Sent \\Archive))",
    b"a STATUS INBOX (SIZE MAILBOXID)",
)

_INTERESTING = b'()[]{}<>"\\*%$~+-.:,;& \t\r\n\x00\x7f\x80\xff0123456789NIL'
_HUGE = (b"0", b"4294967295", b"4294967296", b"99999999999999999999999", b"-1", b"*")


class Mutator:
    def __init__(self, seed: int) -> None:
        self.rng = random.Random(seed)

    def input(self) -> bytes:
        """One hostile command (without its final CRLF)."""
        rng = self.rng
        if rng.random() < 0.05:
            return bytes(rng.choice(_INTERESTING) for _ in range(rng.randrange(1, 80)))
        data = rng.choice(CORPUS)
        for _ in range(rng.randrange(1, 5)):
            data = self.mutate(data)
        return data

    def mutate(self, data: bytes) -> bytes:
        rng = self.rng
        n = len(data)
        at = rng.randrange(n + 1)
        op = rng.randrange(9)
        if op == 0 and n:
            return data[: min(at, n - 1)] + bytes([rng.randrange(256)]) + data[min(at, n - 1) + 1 :]
        if op == 1:
            return data[:at] + bytes([rng.choice(_INTERESTING)]) + data[at:]
        if op == 2:
            return data[:at] + data[at + rng.randrange(1, 12) :]
        if op == 3:
            end = min(n, at + rng.randrange(1, 40))
            return data[:end] + data[at:end] * rng.randrange(1, 4) + data[end:]
        if op == 4:
            return data[:at]
        if op == 5:
            other = rng.choice(CORPUS)
            return data[:at] + other[rng.randrange(len(other)) :]
        if op == 6:
            return data[:at] + rng.choice(_HUGE) + data[at:]
        if op == 7:
            depth = rng.choice((3, 60, 500))
            return data[:at] + b"(" * depth + b"ALL" + b")" * rng.choice((0, depth)) + data[at:]
        # A literal, its announced length right or wrong.
        body = bytes(rng.randrange(256) for _ in range(rng.randrange(0, 20)))
        size = len(body) + rng.choice((0, 0, 0, -1, 1, 1000))
        plus = rng.choice((b"", b"+"))
        return data[:at] + b"{%d%s}\r\n" % (max(size, 0), plus) + body + data[at:]


def socket_safe(data: bytes) -> bytes:
    """One line the session can answer without waiting for more: no CR/LF inside,
    no literal announced at its end (those are fuzzed as whole LITERAL+ commands)."""
    line = data.replace(b"\r", b" ").replace(b"\n", b" ").rstrip(b" \t")
    if line.endswith(b"}"):
        line += b" x"
    return line or b"x"


def literal_command(rng: random.Random) -> bytes:
    """A command whose LITERAL+ literals have right lengths and hostile contents."""
    content = bytes(rng.randrange(256) for _ in range(rng.randrange(0, 64)))
    template = rng.choice(
        (
            b"SEARCH TEXT %s",
            b"SEARCH HEADER %s x",
            b'LIST "" %s',
            b"STATUS %s (MESSAGES)",
            b"ID (%s NIL)",
            b"SORT (SUBJECT) UTF-8 SUBJECT %s",
            b"FETCH 1 (BODY[HEADER.FIELDS (%s)])",
        )
    )
    literal = b"{%d+}\r\n" % len(content) + content
    return template.replace(b"%s", literal)
