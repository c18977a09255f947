"""A cold ``FETCH 1:* (ENVELOPE BODYSTRUCTURE)`` of a big folder, parsed in the pool.

A real server with ``workers: 2`` and a folder of more than
``pool.POOL_MIN`` messages (left in ``cur/`` by an MDA, LF line ends):
the FETCH in the first worker starts that worker's parse pool (a child
process appears; the second may find the parses in the sidecar file
instead) and each answers exactly what the test computes with the in-process
parse from the same bytes; messages expunged by a session of the other
worker after this session's snapshot are skipped with ``OK
[EXPUNGEISSUED]`` while the rest still answer the same; the pools end with
the server.
"""

from __future__ import annotations

import imaplib
import time
from collections.abc import Callable
from pathlib import Path

from mailserver.imap.fetch import no_nuls
from mailserver.imap.mime import ParsedMessage
from mailserver.imap.mime.pool import POOL_MIN
from mailserver.imap.mime.render import bodystructure_decoded
from mailserver.imap.mime.structure import parse_message
from tests.integration.workers.test_workers import TIMEOUT, USER, imap_on
from tests.support.processes import children, running
from tests.support.server import ServerProcess
from tests.unit.imap.mime.test_pool import generated

ServerFactory = Callable[..., ServerProcess]
CORPUS = Path(__file__).parents[2] / "corpus" / "mime"
COUNT = POOL_MIN + 100


def seed(maildir: Path) -> None:
    """Corpus messages then generated ones, written straight into ``cur/``."""
    for sub in ("tmp", "new", "cur"):
        (maildir / sub).mkdir(parents=True, exist_ok=True)
    corpus = [p.read_bytes() for p in sorted(CORPUS.glob("*.eml"))]
    datas = corpus + [generated(n) for n in range(COUNT - len(corpus))]
    stamp = int(time.time()) - len(datas)
    for number, data in enumerate(datas):
        name = f"{stamp + number}.M{number}P1.test:2,S"
        (maildir / "cur" / name).write_bytes(data.replace(b"\r\n", b"\n"))


def flat(data: list[object]) -> bytes:
    """imaplib's FETCH data joined back (literals inline, without their CRLF)."""
    out = []
    for item in data:
        if isinstance(item, tuple):
            out.append(b"".join(item))
        elif isinstance(item, bytes):
            out.append(item + b"\n")
    return b"".join(out)


def expected_line(seq: int, data: bytes) -> bytes:
    parsed = ParsedMessage.parse(data)
    line = b"%d (ENVELOPE %s BODYSTRUCTURE %s)" % (
        seq,
        no_nuls(parsed.envelope()),
        no_nuls(parsed.bodystructure(True)),
    )
    return line.replace(b"}\r\n", b"}") + b"\n"


def bodies(client: imaplib.IMAP4) -> dict[int, bytes]:
    """Every message's bytes as the server sends them, by sequence number."""
    typ, data = client.fetch("1:*", "(BODY.PEEK[])")
    assert typ == "OK"
    out = {}
    for item in data:
        if isinstance(item, tuple):
            out[int(item[0].split()[0])] = item[1]
    return out


def structures(client: imaplib.IMAP4) -> tuple[str, bytes, bytes]:
    """(status, the FETCH responses, the tagged reply's text)."""
    client.untagged_responses.pop("FETCH", None)
    # _simple_command keeps the tagged text (its response code); fetch() drops it.
    typ, tagged = client._simple_command("FETCH", "1:*", "(ENVELOPE BODYSTRUCTURE)")
    data = client.untagged_responses.pop("FETCH", [])
    return typ, flat(data), tagged[-1] or b""


def test_cold_fetch_in_each_worker_uses_its_pool_and_answers_the_same(
    server_factory: ServerFactory,
) -> None:
    server = server_factory(workers=2)
    seed(server.maildir(USER))
    pids = server.worker_pids()
    assert len(pids) == 2
    pools: set[int] = set()
    for number, pid in enumerate(pids):
        before = children(pid)
        client = imap_on(server, pid)
        try:
            typ, count = client.select("INBOX")
            assert typ == "OK" and int(count[0]) == COUNT
            typ, got, _ = structures(client)
            assert typ == "OK"
            fresh = children(pid) - before
            # The second worker may instead find the first one's parses in the
            # folder's sidecar file (written a moment after them): no pool then.
            assert fresh or number, "the FETCH did not start a parse pool in the worker"
            # A helper that failed (or whose answers the worker could not read)
            # is dropped and exits; one that served stays for the next FETCH.
            assert all(running(p) for p in fresh), "the parse helper failed"
            pools |= fresh
            want = b"".join(expected_line(seq, data) for seq, data in bodies(client).items())
            assert got == want
        finally:
            client.logout()
    server.stop()
    deadline = time.monotonic() + TIMEOUT
    while any(Path(f"/proc/{p}").exists() for p in pools) and time.monotonic() < deadline:
        time.sleep(0.1)
    assert not any(Path(f"/proc/{p}").exists() for p in pools), "pool outlived the server"


def test_messages_expunged_by_a_session_in_the_other_worker_are_skipped(
    server_factory: ServerFactory,
) -> None:
    server = server_factory(workers=2)
    seed(server.maildir(USER))
    first, second = server.worker_pids()
    reader = imap_on(server, first)
    other = imap_on(server, second)
    try:
        assert reader.select("INBOX", readonly=True)[0] == "OK"
        assert other.select("INBOX")[0] == "OK"
        originals = bodies(other)  # the other worker's view; its cache, not the reader's
        doomed = set(range(100, COUNT + 1, 9)) | {COUNT}
        doomed_set = ",".join(str(n) for n in sorted(doomed))
        assert other.store(doomed_set, "+FLAGS.SILENT", "(\\Deleted)")[0] == "OK"
        assert other.expunge()[0] == "OK"
        # The reader has not been told yet: its FETCH still covers every message.
        before = children(first)
        typ, got, code = structures(reader)
        assert typ == "OK"
        helpers = children(first) - before
        assert helpers, "the FETCH did not use a parse pool"
        assert all(running(p) for p in helpers), "the parse helper failed"
        lines = got.split(b"\n")[:-1]
        answered = {int(line.split(b" ", 1)[0]): line + b"\n" for line in lines}
        assert set(answered) == set(originals) - doomed
        for seq, line in answered.items():
            assert line == expected_line(seq, originals[seq])
        assert code.startswith(b"[EXPUNGEISSUED]"), code
    finally:
        reader.logout()
        other.logout()


def test_an_imap4rev2_session_gets_decoded_parameters_from_the_pool(
    server_factory: ServerFactory,
) -> None:
    """The pool renders IMAP4rev1's BODYSTRUCTURE; an IMAP4rev2 session's cold
    FETCH must still get RFC 2231 parameters decoded (RFC 9051 7.5.2)."""
    server = server_factory(workers=1)
    seed(server.maildir(USER))
    assert server.process is not None
    pid = server.process.pid  # one process serves: no workers
    client = imaplib.IMAP4(server.host, server.ports["imap"], timeout=TIMEOUT)
    client.login(USER, USER)
    try:
        assert client._simple_command("ENABLE", "IMAP4rev2")[0] == "OK"
        assert client.select("INBOX", readonly=True)[0] == "OK"
        before = children(pid)
        typ, got, _ = structures(client)
        assert typ == "OK"
        helpers = children(pid) - before
        assert helpers and all(running(p) for p in helpers), "the FETCH did not use a pool"
        want = []
        decoded = 0
        for seq, data in bodies(client).items():
            parsed = ParsedMessage.parse(data)
            structure = parsed.bodystructure(True)
            if b'*" "' in structure:
                structure = bodystructure_decoded(parse_message(data), True)
                decoded += 1
            line = b"%d (ENVELOPE %s BODYSTRUCTURE %s)" % (
                seq,
                no_nuls(parsed.envelope()),
                no_nuls(structure),
            )
            want.append(line.replace(b"}\r\n", b"}") + b"\n")
        assert decoded  # the corpus has RFC 2231 parameters
        assert got == b"".join(want)
    finally:
        client.logout()
