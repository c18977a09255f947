"""dovecot-uidlist parsing and writing, including lines as Dovecot writes them."""

import pytest

from mailserver.storage.maildir.uidlist import UidEntry, UidList, UidListError, salvage_uidvalidity

DOVECOT_SAMPLE = (
    "3 V1275660208 N25022 G3085f01b7f11094c501100008c4a11c1\n"
    "25006 :1276528487.M364837P9451.kurkku,S=1355,W=1394:2,\n"
    "25017 W2481 :1276533073.M242911P3632.kurkku:2,F\n"
)


def test_parse_dovecot_v3_sample() -> None:
    parsed = UidList.parse(DOVECOT_SAMPLE)
    assert parsed.uidvalidity == 1275660208
    assert parsed.next_uid == 25022
    assert parsed.guid == "3085f01b7f11094c501100008c4a11c1"
    assert list(parsed.entries) == [25006, 25017]
    # File names are reduced to their base: flags change, the base never does.
    assert parsed.entries[25006].base == "1276528487.M364837P9451.kurkku,S=1355,W=1394"
    assert parsed.entries[25017] == UidEntry("1276533073.M242911P3632.kurkku", ("W2481",))
    assert parsed.entries[25017].crlf_size == 2481
    assert parsed.entries[25006].crlf_size is None
    assert parsed.by_base["1276533073.M242911P3632.kurkku"] == 25017


def test_serialize_round_trip() -> None:
    parsed = UidList.parse(DOVECOT_SAMPLE)
    text = parsed.serialize()
    assert text.splitlines()[0] == "3 V1275660208 N25022 G3085f01b7f11094c501100008c4a11c1"
    assert "25017 W2481 :1276533073.M242911P3632.kurkku\n" in text
    again = UidList.parse(text)
    assert again.entries == parsed.entries
    assert (again.uidvalidity, again.next_uid, again.guid) == (1275660208, 25022, parsed.guid)


def test_unknown_header_fields_are_kept() -> None:
    parsed = UidList.parse("3 V5 N2 Gabc X99\n1 :a\n")
    assert parsed.header_extra == ("X99",)
    assert parsed.serialize().splitlines()[0] == "3 V5 N2 Gabc X99"


def test_assign_is_monotonic_and_idempotent() -> None:
    uids = UidList(uidvalidity=7)
    assert uids.assign("a") == 1
    assert uids.assign("b", ("W10",)) == 2
    assert uids.assign("a") == 1
    uids.remove(2)
    assert uids.assign("c") == 3  # never reuse 2
    assert uids.next_uid == 4
    assert "b" not in uids.by_base


def test_next_uid_never_below_listed_uids() -> None:
    parsed = UidList.parse("3 V1 N2\n1 :a\n7 :b\n")
    assert parsed.next_uid == 8


def test_version_1_is_read() -> None:
    parsed = UidList.parse("1 1000 5\n3 1000.123.host:2,S\n4 1001.1.host\n")
    assert parsed.uidvalidity == 1000
    assert parsed.next_uid == 5
    assert parsed.entries[3].base == "1000.123.host"


def test_empty_list_serializes_header_only() -> None:
    text = UidList(uidvalidity=42, guid="00" * 16).serialize()
    assert text == f"3 V42 N1 G{'00' * 16}\n"
    assert UidList.parse(text).entries == {}


@pytest.mark.parametrize(
    "text",
    [
        "",
        "garbage\n",
        "2 V1 N1\n",  # unsupported version
        "3 N5\n",  # no V
        "3 V1\n",  # no N
        "3 Vx N1\n",
        "3 V1 N9\n2 :a\n1 :b\n",  # not ascending
        "3 V1 N9\n1 :a\n2 :a:2,S\n",  # same file twice
        "3 V1 N9\n1 a\n",  # no colon
        "3 V1 N9\nx :a\n",
        "3 V1 N9\n0 :a\n",
        "3 V1 N9\n1 :\n",
    ],
)
def test_corrupt_files_are_rejected(text: str) -> None:
    with pytest.raises(UidListError):
        UidList.parse(text)


def test_salvage_uidvalidity() -> None:
    assert salvage_uidvalidity("3 V123 N5 junk\n1 1 1 1") == 123
    assert salvage_uidvalidity("1 77 3\n") == 77
    assert salvage_uidvalidity("\x00\x01") == 0


def test_appended_entries_past_a_stale_n_are_read() -> None:
    """Deliveries append lines without rewriting the header (as Dovecot does)."""
    parsed = UidList.parse("3 V5 N3 Gabc\n1 :a\n2 :b\n3 :c\n4 W10 :d\n")
    assert list(parsed.entries) == [1, 2, 3, 4] and parsed.next_uid == 5
    assert parsed.entries[4] == UidEntry("d", ("W10",))


def test_a_torn_last_line_is_ignored_not_a_reason_to_rebuild() -> None:
    parsed = UidList.parse("3 V5 N3\n1 :a\n2 :b\n3 W1")
    assert parsed.uidvalidity == 5 and list(parsed.entries) == [1, 2]
    assert parsed.next_uid == 3
    whole = UidList.parse("3 V5 N3\n1 :a\n2 :b")  # complete but for its newline
    assert list(whole.entries) == [1, 2]


def test_extend_takes_appended_lines() -> None:
    listed = UidList.parse("3 V7 N3 Gabc\n1 :one\n2 W120 :two\n")
    listed.extend("3 :three\n5 :five\n")
    assert list(listed.entries) == [1, 2, 3, 5]
    assert listed.by_base["five"] == 5
    assert listed.next_uid == 6


@pytest.mark.parametrize(
    "tail",
    ["2 :again\n", "4 :one\n", "4 :four", "4 five\n", "4 :four\n4 :other\n"],
    ids=["not-ascending", "listed-twice", "torn", "no-name", "duplicate-uid"],
)
def test_extend_refuses_what_does_not_continue_the_list(tail: str) -> None:
    listed = UidList.parse("3 V7 N3 Gabc\n1 :one\n2 :two\n")
    with pytest.raises(UidListError):
        listed.extend(tail)
    assert list(listed.entries) == [1, 2] and listed.next_uid == 3
