"""The failures an independent IMAP compliance suite found (issue 14), one test each.

Each was a transcript that failed before its fix: a valid command that ended
the session, a wrong status, a LIST-EXTENDED, CONDSTORE or SEARCH answer
that differed from the RFC's.
"""

from __future__ import annotations

import re

from tests.dialogue import test_imap_rfc3501 as harness
from tests.dialogue.test_imap_condstore import command
from tests.dialogue.test_imap_rfc3501 import ImapLab

imap_lab_factory = harness.imap_lab_factory
imap_lab = harness.imap_lab

ODD_ATOM = "!#$&'+,-.0123456789:;<=>?@^_`|[}"


def message(number: int, sender: str = "a@JServer.NetLab") -> bytes:
    return f"From: {sender}\r\nSubject: mail {number}\r\n\r\nbody {number}\r\n".encode()


async def test_list_and_select_of_the_odd_character_atom(imap_lab: ImapLab) -> None:
    client = await imap_lab.login()
    lines = await command(client, f'a LIST "" {ODD_ATOM}%*')
    assert lines[-1].startswith("a OK"), lines
    lines = await command(client, f"b SELECT {ODD_ATOM}")
    assert lines[-1].startswith("b NO"), lines
    lines = await command(client, "c NOOP")
    assert lines[-1].startswith("c OK"), lines


async def test_id_with_thirty_maximum_size_pairs(imap_lab: ImapLab) -> None:
    client = await imap_lab.login()
    pairs = " ".join(f'"{i:030d}" "{"v" * 1024}"' for i in range(30))
    lines = await command(client, f"a ID ({pairs})")
    assert lines[0].startswith("* ID ("), lines
    assert lines[-1] == "a OK ID completed", lines
    # Beyond the limits: BAD, but the session goes on.
    too_many = " ".join(f'"f{i}" "v"' for i in range(31))
    lines = await command(client, f"b ID ({too_many})")
    assert lines[-1].startswith("b BAD"), lines
    lines = await command(client, "c NOOP")
    assert lines[-1].startswith("c OK"), lines


async def test_list_extended_recursivematch_own_match_has_no_childinfo(
    imap_lab: ImapLab,
) -> None:
    client = await imap_lab.login()
    await client.play(
        """
        C: a CREATE parent
        S: a OK *
        C: b CREATE parent/child
        S: b OK *
        C: c SUBSCRIBE parent/child
        S: c OK *
        """
    )
    lines = await command(client, 'd LIST (SUBSCRIBED RECURSIVEMATCH) "" (parent parent/child)')
    assert lines[-1].startswith("d OK"), lines
    listed = [line for line in lines if line.startswith("* LIST")]
    assert len(listed) == 1, lines
    assert listed[0].endswith('"parent/child"') or listed[0].endswith(" parent/child"), listed
    assert "\\Subscribed" in listed[0]
    assert "CHILDINFO" not in listed[0]
    # The RFC 5258 3.5 case where CHILDINFO belongs: the parent is matched only for its child.
    lines = await command(client, 'e LIST (SUBSCRIBED RECURSIVEMATCH) "" parent')
    assert any('("CHILDINFO" ("SUBSCRIBED"))' in line for line in lines), lines


async def test_condstore_first_enabled_by_fetch_modseq(imap_lab: ImapLab) -> None:
    await imap_lab.deliver(message(1))
    client = await imap_lab.login()
    await command(client, "s SELECT INBOX")
    lines = await command(client, "f FETCH 1 MODSEQ")
    assert re.fullmatch(r"\* 1 FETCH \(MODSEQ \(\d+\)\)", lines[0]), lines
    assert any(re.fullmatch(r"\* OK \[HIGHESTMODSEQ \d+\].*", line) for line in lines), lines
    assert lines[-1].startswith("f OK"), lines
    # Only on the first enabling command.
    lines = await command(client, "g FETCH 1 MODSEQ")
    assert not any("HIGHESTMODSEQ" in line for line in lines), lines


async def test_search_return_min_max_reports_that_messages_modseq(imap_lab: ImapLab) -> None:
    for n in range(3):
        await imap_lab.deliver(message(n))
    client = await imap_lab.login()
    await command(client, "s SELECT INBOX")
    await command(client, "t1 STORE 3 +FLAGS (\\Flagged)")
    await command(client, "t2 STORE 1 +FLAGS (\\Answered)")
    fetched = await command(client, "f FETCH 1:3 MODSEQ")
    modseqs = {
        int(m.group(1)): int(m.group(2))
        for line in fetched
        if (m := re.match(r"\* (\d+) FETCH \(MODSEQ \((\d+)\)\)", line))
    }
    assert modseqs[1] > modseqs[3] > modseqs[2], modseqs
    lines = await command(client, "a SEARCH RETURN (MIN) MODSEQ 1")
    assert lines[0] == f'* ESEARCH (TAG "a") MIN 1 MODSEQ {modseqs[1]}', lines
    lines = await command(client, "b SEARCH RETURN (MAX) MODSEQ 1")
    assert lines[0] == f'* ESEARCH (TAG "b") MAX 3 MODSEQ {modseqs[3]}', lines
    lines = await command(client, "c SEARCH RETURN (MIN MAX) MODSEQ 1")
    assert lines[0] == f'* ESEARCH (TAG "c") MIN 1 MAX 3 MODSEQ {modseqs[1]}', lines
    lines = await command(client, "d SEARCH RETURN (COUNT) MODSEQ 1")
    assert lines[0] == f'* ESEARCH (TAG "d") COUNT 3 MODSEQ {modseqs[1]}', lines


async def test_search_from_compares_parsed_addresses(imap_lab: ImapLab) -> None:
    await imap_lab.deliver(message(1, "<user-from (comment)@ (comment) domain.org>"))
    await imap_lab.deliver(message(2, "Other <other@domain.org>"))
    await imap_lab.deliver(message(3, '"Folded\r\n Name" <user-from@\r\n domain.org>'))
    client = await imap_lab.login()
    await command(client, "s SELECT INBOX")
    await client.play(
        """
        C: a SEARCH FROM user-from@domain.org
        S: * SEARCH 1 3
        S: a OK SEARCH completed
        C: b SEARCH FROM user-from
        S: * SEARCH 1 3
        S: b OK SEARCH completed
        C: c SEARCH FROM "Folded Name"
        S: * SEARCH 3
        S: c OK SEARCH completed
        """
    )


async def test_list_wildcard_runs_cannot_stall_the_server(imap_lab: ImapLab) -> None:
    # Compiled to a regular expression, "*%*%..." backtracked for minutes per name
    # (the whole event loop with it); the reply must come within the reply timeout.
    client = await imap_lab.login()
    name = "a" * 60
    lines = await command(client, f"c CREATE {name}")
    assert lines[-1].startswith("c OK"), lines
    lines = await command(client, 'l LIST "" ' + "*%" * 12 + "x")
    assert lines == ["l OK LIST completed"], lines
    lines = await command(client, 'm LIST "" ' + "*%" * 12 + "a")
    assert lines[0].endswith(" " + name) and lines[-1] == "m OK LIST completed", lines
