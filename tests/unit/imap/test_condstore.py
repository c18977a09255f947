"""RFC 7162 / RFC 9208 / RFC 6855 grammar and the VANISHED computation, without a server."""

from __future__ import annotations

import pytest

from mailserver.imap import wire
from mailserver.imap.condstore import ranges_text, subtract, vanished_since
from mailserver.imap.parser.commands import (
    Append,
    AppendMessage,
    Fetch,
    InvalidCommand,
    QuotaRoot,
    Select,
    SetQuota,
    Status,
    Store,
    parse_command,
)
from mailserver.imap.parser.condstore import QresyncParams, SelectParams
from mailserver.imap.parser.lexer import decode_mailbox, encode_mailbox
from mailserver.imap.parser.search_keys import And, ModSeqKey, Not
from mailserver.imap.parser.sequence import sequence_set_from


def parse(line: str | bytes, utf8: bool = False) -> object:
    return parse_command(line.encode() if isinstance(line, str) else line, utf8_names=utf8)


def test_select_parameters() -> None:
    assert parse("a SELECT INBOX (CONDSTORE)") == Select(
        "a", "SELECT", "INBOX", SelectParams(condstore=True)
    )
    parsed = parse("A02 SELECT INBOX (QRESYNC (67890007 20050715194045000 41,43:211,214:541))")
    assert parsed == Select(
        "A02",
        "SELECT",
        "INBOX",
        SelectParams(
            qresync=QresyncParams(
                67890007, 20050715194045000, sequence_set_from("41,43:211,214:541")
            )
        ),
    )
    # RFC 7162 3.2.5.2 example with sequence match data.
    parsed = parse(
        "B04 SELECT INBOX (QRESYNC (67890007 90060115194045000 1:29997 "
        "(5000,7500,9000,9990:9999 15000,22500,27000,29970,29973,29976,29979,29982,29985,29988,"
        "29991,29994,29997)))"
    )
    assert isinstance(parsed, Select)
    assert parsed.params.qresync is not None and parsed.params.qresync.seq_match is not None
    assert parse("a examine x (qresync (1 2 (1 5)))") == Select(
        "a",
        "EXAMINE",
        "x",
        SelectParams(
            qresync=QresyncParams(1, 2, None, (sequence_set_from("1"), sequence_set_from("5")))
        ),
    )


@pytest.mark.parametrize(
    "line",
    [
        "a SELECT INBOX ()x",
        "a SELECT INBOX (BOGUS)",
        "a SELECT INBOX (CONDSTORE CONDSTORE)",
        "a SELECT INBOX (QRESYNC (0 5))",
        "a SELECT INBOX (QRESYNC (1 0))",
        "a SELECT INBOX (QRESYNC (1 99999999999999999999))",
        "a SELECT INBOX (QRESYNC (1 2 3 4))",
        "a FETCH 1 FLAGS (CHANGEDSINCE)",
        "a FETCH 1 FLAGS (VANISHED)",
        "a FETCH 1 FLAGS (CHANGEDSINCE 9223372036854775808)",
        "a STORE 1 (UNCHANGEDSINCE 1 +FLAGS (\\Seen)",
        "a STORE 1 (UNCHANGEDSINCE 1) +FLAGS",
        "a SEARCH MODSEQ",
        'a SEARCH MODSEQ "/flags/\\\\seen" bogus 5',
        'a SETQUOTA "" (STORAGE)',
        "a GETQUOTA",
        "a APPEND INBOX UTF8 ({3}\r\nabc)",
    ],
)
def test_bad_syntax(line: str) -> None:
    parsed = parse(line)
    assert isinstance(parsed, InvalidCommand) and parsed.status == "BAD", parsed


def test_fetch_and_store_modifiers() -> None:
    parsed = parse("s100 UID FETCH 1:* (FLAGS) (CHANGEDSINCE 12345 VANISHED)")
    assert isinstance(parsed, Fetch)
    assert parsed.changed_since == 12345 and parsed.vanished and parsed.uid
    parsed = parse("a FETCH 1:* FLAGS (changedsince 9223372036854775807)")
    assert isinstance(parsed, Fetch) and parsed.changed_since == 2**63 - 1
    parsed = parse("a103 UID STORE 6,4,8 (UNCHANGEDSINCE 12121230045) +FLAGS.SILENT (\\Deleted)")
    assert isinstance(parsed, Store)
    assert parsed.unchanged_since == 12121230045 and parsed.silent and parsed.mode == "add"
    parsed = parse("a STORE 1 (UNCHANGEDSINCE 0) FLAGS ()")
    assert isinstance(parsed, Store) and parsed.unchanged_since == 0


def test_search_modseq_key() -> None:
    parsed = parse('a SEARCH MODSEQ "/flags/\\\\draft" all 620162338')
    assert getattr(parsed, "key", None) == ModSeqKey(620162338)
    parsed = parse("a SEARCH OR NOT MODSEQ 720162338 LARGER 50000")
    key = getattr(parsed, "key", None)
    assert key is not None and key.left == Not(ModSeqKey(720162338))  # type: ignore[union-attr]
    parsed = parse("a UID SEARCH MODSEQ 5 UID 1:*")
    assert isinstance(getattr(parsed, "key", None), And)


def test_status_items_and_quota_commands() -> None:
    assert parse("a STATUS blurdybloop (UIDNEXT HIGHESTMODSEQ DELETED-STORAGE)") == Status(
        "a", "STATUS", "blurdybloop", ("UIDNEXT", "HIGHESTMODSEQ", "DELETED-STORAGE")
    )
    assert parse('G0001 GETQUOTA "!partition/sda4"') == QuotaRoot(
        "G0001", "GETQUOTA", "!partition/sda4"
    )
    assert parse('a getquota ""') == QuotaRoot("a", "GETQUOTA", "")
    assert parse('S0000 SETQUOTA "" (STORAGE 512)') == SetQuota(
        "S0000", "SETQUOTA", "", (("STORAGE", 512),)
    )
    assert parse('a SETQUOTA "" ()') == SetQuota("a", "SETQUOTA", "", ())
    parsed = parse("G0002 GETQUOTAROOT INBOX")
    assert getattr(parsed, "name", None) == "GETQUOTAROOT"
    assert getattr(parsed, "mailbox", None) == "INBOX"


def test_utf8_mailbox_names_and_append() -> None:
    assert decode_mailbox(b"R&D", utf8=True) == "R&D"
    assert decode_mailbox("Entwürfe".encode(), utf8=True) == "Entwürfe"
    assert decode_mailbox(b"inbox/x", utf8=True) == "INBOX/x"
    assert decode_mailbox(b"Entw&APw-rfe") == "Entwürfe"
    assert encode_mailbox("Entwürfe", utf8=True) == "Entwürfe"
    assert encode_mailbox("Entwürfe") == "Entw&APw-rfe"
    assert getattr(parse('a CREATE "R&D"', utf8=True), "mailbox", None) == "R&D"
    assert isinstance(parse('a CREATE "R&D"'), InvalidCommand)  # not valid modified UTF-7
    header = "Subject: Grüße\r\n\r\nx\r\n".encode()
    line = b"a APPEND INBOX UTF8 (~{%d}\r\n%s)" % (len(header), header)
    assert parse(line) == Append("a", "APPEND", "INBOX", (AppendMessage((), None, header),))
    assert wire.utf8_astring("Entwürfe") == '"Entwürfe"'.encode()
    assert wire.utf8_astring("Sent") == b"Sent"
    assert wire.utf8_astring('a"b') == b'"a\\"b"'
    assert wire.utf8_astring("a\r\nb") == b"{4}\r\na\r\nb"


def test_sequence_set_and_ranges() -> None:
    assert wire.sequence_set([9, 1, 2, 3, 7, 10, 2]) == b"1:3,7,9:10"
    assert wire.sequence_set([]) == b""
    assert ranges_text([(1, 1), (3, 5)]) == b"1,3:5"
    assert subtract([(1, 10), (20, 20)], [1, 5, 20, 30]) == [(2, 4), (6, 10)]


class _Folder:
    """Only ``expunged_since``: enough for :func:`vanished_since`."""

    def __init__(self, history: list[int] | None) -> None:
        self.history = history

    async def expunged_since(self, modseq: int) -> list[int] | None:
        return self.history


async def test_vanished_from_history_stays_within_the_asked_uids() -> None:
    folder = _Folder([2, 3, 7, 15])
    got = await vanished_since(folder, 5, [(1, 6), (15, 99)], [1, 4, 5, 6], 16)  # type: ignore[arg-type]
    assert got == [(2, 3), (15, 15)]


async def test_vanished_without_history_names_every_missing_uid() -> None:
    folder = _Folder(None)
    got = await vanished_since(folder, 5, [(1, 4_294_967_295)], [3, 4, 8], 10)  # type: ignore[arg-type]
    assert got == [(1, 2), (5, 7), (9, 9)]
    assert await vanished_since(folder, 5, [(12, 20)], [3], 10) == []  # type: ignore[arg-type]
