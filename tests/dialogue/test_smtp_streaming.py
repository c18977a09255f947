"""DATA and BDAT stream into a spool file: CHUNKING, limits, clean-up, the bare-LF hint.

Issue 15 (memory bounded per connection) and the parts of issues 10 (BDAT,
long lines) and 12 (``nc`` without ``-C``) that live in the DATA path.
"""

from __future__ import annotations

import asyncio
import os
import time
from pathlib import Path

import pytest

from mailserver.config import Limits, TimeoutSettings
from mailserver.smtp import protocol
from mailserver.storage.spool import BATCH, spool_dir
from tests.dialogue import test_smtp_exercises as harness
from tests.dialogue.test_smtp_exercises import SmtpLab, SmtpLabFactory
from tests.support.waiting import until

smtp_lab_factory = harness.smtp_lab_factory
smtp_lab = harness.smtp_lab

#: EHLO (BDAT and BINARYMIME are ESMTP), group1_1 sends to group1_2: ready for the message.
INTO_TRANSACTION = """
    C: EHLO pc
    S: 250-*
    S: 250-*
    S: 250-*
    S: 250-*
    S: 250-*
    S: 250-*
    S: 250-*
    S: 250-DSN
    S: 250-CHUNKING
    S: 250 BINARYMIME
    C: MAIL FROM:<group1_1@JServer.NetLab>
    S: 250 *
    C: RCPT TO:<group1_2@JServer.NetLab>
    S: 250 *
"""


def spool_files(lab: SmtpLab) -> list[str]:
    directory = spool_dir(lab.config.data_dir)
    return os.listdir(directory) if directory.exists() else []


async def test_bdat_chunks_make_one_message(smtp_lab: SmtpLab) -> None:
    dialogue = await smtp_lab.connect()
    await dialogue.play(INTO_TRANSACTION)
    first = b"Subject: chunks\r\n\r\nbinary \x00\xff and a bare\nLF "
    second = b"\r\n.\r\nstays as sent\r\n"
    # Pipelined, as RFC 3030 allows: both chunks and the replies after.
    dialogue.writer.write(
        b"BDAT %d\r\n%bBDAT %d LAST\r\n%b" % (len(first), first, len(second), second)
    )
    await dialogue.play(f"""
        S: 250 2.0.0 {len(first)} octets received
        S: 250 2.0.0 Ok: queued as *
        C: NOOP
        S: 250 2.0.0 Ok
    """)
    [stored] = await smtp_lab.messages("group1_2")
    # The store keeps LF line ends and gives CRLF back; the octets are otherwise as sent.
    assert stored.endswith(b"binary \x00\xff and a bare\r\nLF \r\n.\r\nstays as sent\r\n")
    assert b"\r\nSubject: chunks\r\n" in stored
    assert spool_files(smtp_lab) == []


async def test_binarymime_needs_bdat_and_bdat_zero_last_ends_it(smtp_lab: SmtpLab) -> None:
    dialogue = await smtp_lab.connect()
    await dialogue.play("""
        C: EHLO pc
        S: 250-*
        S: 250-*
        S: 250-*
        S: 250-*
        S: 250-*
        S: 250-*
        S: 250-*
        S: 250-*
        S: 250-*
        S: 250 *
        C: MAIL FROM:<group1_1@JServer.NetLab> BODY=BINARYMIME
        S: 250 2.1.0 Ok
        C: RCPT TO:<group1_2@JServer.NetLab>
        S: 250 *
        C: DATA
        S: 503 5.5.1 Error: this message must be sent with BDAT
        C: BDAT 12
    """)
    dialogue.writer.write(b"Subject: b\r\n")
    await dialogue.play("""
        S: 250 2.0.0 12 octets received
        C: DATA
        S: 503 5.5.1 Error: this message must be sent with BDAT
        C: BDAT 0 LAST
        S: 250 2.0.0 Ok: queued as *
    """)
    [stored] = await smtp_lab.messages("group1_2")
    assert b"\r\nSubject: b\r\n" in stored


async def test_refused_bdat_is_read_and_thrown_away(smtp_lab: SmtpLab) -> None:
    dialogue = await smtp_lab.connect()
    await dialogue.play("""
        C: EHLO pc
        S: 250-*
        S: 250-*
        S: 250-*
        S: 250-*
        S: 250-*
        S: 250-*
        S: 250-*
        S: 250-*
        S: 250-*
        S: 250 *
        C: BDAT x
        S: 501 5.5.4 Syntax: BDAT <size> [LAST]
    """)
    # No transaction: refused, but its 15 octets must not be taken for commands.
    dialogue.writer.write(b"BDAT 15 LAST\r\nQUIT\r\nQUIT\r\nx\r\n")
    await dialogue.play("""
        S: 503 5.5.1 Error: need RCPT command
        C: NOOP
        S: 250 2.0.0 Ok
    """)


async def test_bdat_over_the_size_limit_fails_the_transaction(
    smtp_lab_factory: SmtpLabFactory,
) -> None:
    lab = await smtp_lab_factory(limits=Limits(max_message_size=100))
    dialogue = await lab.connect()
    await dialogue.play(INTO_TRANSACTION)
    dialogue.writer.write(b"BDAT 60\r\n" + b"a" * 60 + b"BDAT 60\r\n" + b"b" * 60)
    await dialogue.play("""
        S: 250 2.0.0 60 octets received
        S: 552 5.3.4 Message too big
    """)
    # Chunks already in the pipeline are read and refused: the transaction is gone.
    dialogue.writer.write(b"BDAT 5 LAST\r\nhello")
    await dialogue.play("""
        S: 503 5.5.1 Error: need RCPT command
        C: NOOP
        S: 250 2.0.0 Ok
    """)
    assert await lab.messages("group1_2") == []
    assert spool_files(lab) == []


async def test_small_message_never_touches_the_spool(smtp_lab: SmtpLab) -> None:
    """A message smaller than a write batch stays in memory until delivery
    (upload.py): no spool directory, let alone a file, is ever made for it."""
    dialogue = await smtp_lab.connect()
    await dialogue.play(INTO_TRANSACTION)
    body = b"line of a small message\r\n" * 100
    await dialogue.play("""
        C: DATA
        S: 354 *
    """)
    dialogue.writer.write(b"Subject: small\r\n\r\n" + body + b".\r\n")
    await dialogue.expect("250 2.0.0 Ok: queued as *")
    [stored] = await smtp_lab.messages("group1_2")
    assert b"\r\nSubject: small\r\n" in stored
    assert stored.endswith(b"\r\n\r\n" + body)
    assert not spool_dir(smtp_lab.config.data_dir).exists()


@pytest.mark.parametrize("extra", [-1, 0, 1, 70_000])
async def test_message_around_the_batch_size_arrives_whole(smtp_lab: SmtpLab, extra: int) -> None:
    """Either side of the memory/spool boundary (and across it within one
    socket read) the stored message is exactly what was sent."""
    dialogue = await smtp_lab.connect()
    await dialogue.play(INTO_TRANSACTION)
    head = b"Subject: boundary\r\n\r\n"
    line = b"0123456789" * 9 + b"abcdefg\r\n"
    size = BATCH + extra - len(head)
    body = (line * (size // len(line) + 1))[:size]
    body = body[: body.rfind(b"\r\n") + 2] if extra != 0 else body[:-2] + b"\r\n"
    await dialogue.play("""
        C: DATA
        S: 354 *
    """)
    dialogue.writer.write(head + body + b".\r\n")
    await dialogue.expect("250 2.0.0 Ok: queued as *")
    [stored] = await smtp_lab.messages("group1_2")
    assert b"\r\nSubject: boundary\r\n" in stored
    assert stored.endswith(b"\r\n\r\n" + body)
    assert spool_files(smtp_lab) == []


async def test_rset_drops_an_unfinished_bdat_message(smtp_lab: SmtpLab) -> None:
    dialogue = await smtp_lab.connect()
    await dialogue.play(INTO_TRANSACTION)
    # More than one write batch: a smaller message would wait in memory.
    chunk = b"x" * (BATCH + 10)
    dialogue.writer.write(b"BDAT %d\r\n%b" % (len(chunk), chunk))
    await dialogue.play(f"""
        S: 250 2.0.0 {len(chunk)} octets received
    """)
    assert spool_files(smtp_lab) != []  # the octets went to disk, not to memory
    await dialogue.play("""
        C: RSET
        S: 250 2.0.0 Ok
    """)
    assert spool_files(smtp_lab) == []
    assert await smtp_lab.messages("group1_2") == []


async def test_header_section_over_the_limit_is_refused(
    smtp_lab_factory: SmtpLabFactory,
) -> None:
    lab = await smtp_lab_factory(limits=Limits(max_header_size=2048))
    dialogue = await lab.connect()
    await dialogue.play(INTO_TRANSACTION)
    fields = b"".join(b"X-Field-%d: %s\r\n" % (i, b"v" * 60) for i in range(40))
    await dialogue.play("""
        C: DATA
        S: 354 *
    """)
    dialogue.writer.write(fields + b"\r\nbody\r\n.\r\n")
    await dialogue.play("""
        S: 552 5.3.4 Message header too large (limit 2048 octets)
        C: MAIL FROM:<group1_1@JServer.NetLab>
        S: 250 *
        C: RCPT TO:<group1_2@JServer.NetLab>
        S: 250 *
        C: DATA
        S: 354 *
    """)
    # Under the limit, and a body far larger than it: fine.
    dialogue.writer.write(fields[:1500] + b"\r\n" + b"body line\r\n" * 1000 + b".\r\n")
    await dialogue.expect("250 2.0.0 Ok: queued as *")
    [stored] = await lab.messages("group1_2")
    assert stored.endswith(b"body line\r\n" * 1000)
    assert spool_files(lab) == []


async def test_client_leaving_mid_data_leaves_no_spool_file(smtp_lab: SmtpLab) -> None:
    dialogue = await smtp_lab.connect()
    await dialogue.play(INTO_TRANSACTION)
    await dialogue.play("""
        C: DATA
        S: 354 *
    """)
    dialogue.writer.write(b"Subject: gone\r\n\r\n" + b"x" * 1_000_000)
    await dialogue.writer.drain()
    await until(lambda: spool_files(smtp_lab) != [])
    await dialogue.close()
    await until(lambda: spool_files(smtp_lab) == [])
    assert await smtp_lab.messages("group1_2") == []


async def test_uploads_past_the_memory_budget_get_a_temporary_error(
    smtp_lab_factory: SmtpLabFactory,
) -> None:
    # Each upload reserves 2 x 64 KiB + a 256 KiB batch + the header limit (~480 KiB).
    lab = await smtp_lab_factory(limits=Limits(memory_budget=1_048_576))
    dialogues = []
    for _ in range(2):
        dialogue = await lab.connect()
        await dialogue.play(INTO_TRANSACTION + "C: DATA\nS: 354 *")
        dialogues.append(dialogue)
    third = await lab.connect()
    await third.play(INTO_TRANSACTION)
    await third.play("""
        C: DATA
        S: 452 4.3.1 Too many messages being received, try again later
    """)
    await dialogues[0].close()  # its share comes back as soon as the server sees it go
    deadline = time.monotonic() + 10
    while True:
        await third.send("DATA")
        reply = await third.line()
        if reply.startswith("354"):
            break
        assert time.monotonic() < deadline, reply
        await asyncio.sleep(0.05)
    await third.play("""
        C: Subject: late but fine
        C:
        C: .
        S: 250 2.0.0 Ok: queued as *
    """)


async def test_nc_without_crlf_gets_told_instead_of_a_silent_hang(
    smtp_lab: SmtpLab, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Issue 12: ``.`` LF never ends DATA (SMTP smuggling), but a student whose
    ``nc`` sends bare LF learns why after a short quiet spell."""
    monkeypatch.setattr(protocol, "BARE_LF_GRACE", 0.3)
    dialogue = await smtp_lab.connect()
    await dialogue.play(INTO_TRANSACTION + "C: DATA\nS: 354 *")
    dialogue.writer.write(b"Subject: typed\n\nhello\n.\n")
    started = time.monotonic()
    reply = await dialogue.line()
    assert reply.startswith("554 5.5.2 ")
    assert "CRLF" in reply and "nc -C" in reply
    assert time.monotonic() - started < 5
    assert await dialogue.closed()
    assert await smtp_lab.messages("group1_2") == []


async def test_lf_dot_lf_inside_a_crlf_message_is_content(
    smtp_lab: SmtpLab, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The smuggling case: ``LF . LF`` sent at once is part of the message; no hint, no end."""
    monkeypatch.setattr(protocol, "BARE_LF_GRACE", 0.3)
    dialogue = await smtp_lab.connect()
    await dialogue.play(INTO_TRANSACTION + "C: DATA\nS: 354 *")
    dialogue.writer.write(b"Subject: s\r\n\r\nx\n.\nMAIL FROM:<evil@x>\r\n.\r\n")
    await dialogue.expect("250 2.0.0 Ok: queued as *")
    [stored] = await smtp_lab.messages("group1_2")
    assert stored.endswith(b"x\r\n.\r\nMAIL FROM:<evil@x>\r\n")


async def test_trickling_data_is_not_activity(smtp_lab_factory: SmtpLabFactory) -> None:
    """One byte every 0.2 s is below limits.min_data_rate: the idle timeout ends it."""
    lab = await smtp_lab_factory(
        timeouts=TimeoutSettings(smtp=1.0), limits=Limits(min_data_rate=100)
    )
    dialogue = await lab.connect()
    await dialogue.play(INTO_TRANSACTION + "C: DATA\nS: 354 *")
    started = time.monotonic()
    with pytest.raises((ConnectionError, EOFError)):
        while time.monotonic() - started < 15:
            dialogue.writer.write(b"x")
            await dialogue.writer.drain()
            await asyncio.sleep(0.2)
            if dialogue.reader.at_eof() or dialogue.reader._buffer:  # type: ignore[attr-defined]
                assert (await dialogue.line()).startswith("421 4.4.2")
                raise EOFError
    assert time.monotonic() - started < 10


async def test_trickling_a_command_line_is_not_activity(
    smtp_lab_factory: SmtpLabFactory,
) -> None:
    lab = await smtp_lab_factory(timeouts=TimeoutSettings(smtp=1.0))
    dialogue = await lab.connect()
    started = time.monotonic()
    for char in b"NOOP NOOP NOOP NOOP NOOP":
        dialogue.writer.write(bytes([char]))
        await asyncio.sleep(0.2)
        if dialogue.reader._buffer:  # type: ignore[attr-defined]
            break
    assert (await dialogue.line()).startswith("421 4.4.2")
    assert time.monotonic() - started < 5


def test_spool_files_of_dead_processes_are_removed_at_start(tmp_path: Path) -> None:
    from mailserver.storage.spool import clean_spool

    directory = spool_dir(tmp_path)
    directory.mkdir()
    dead = directory / "in.999999999.1.tmp"  # beyond pid_max: not running
    alive = directory / f"in.{os.getppid()}.1.tmp"
    for path in (dead, alive):
        path.write_bytes(b"half a message")
    assert clean_spool(tmp_path) == 1
    assert not dead.exists() and alive.exists()


async def test_a_dropped_upload_holds_no_memory_even_before_the_cycle_collector(
    smtp_lab: SmtpLab,
) -> None:
    """Issue 15: aborted DATA was freed only when gc happened to run: the session
    object sits in reference cycles, and it held the whole message. Now what it
    holds when the client vanishes is a few small buffers, gc or no gc."""
    import gc
    import tracemalloc

    gc.collect()
    gc.disable()
    tracemalloc.start()
    try:
        dialogue = await smtp_lab.connect()
        await dialogue.play(INTO_TRANSACTION + "C: DATA\nS: 354 *")
        before, _ = tracemalloc.get_traced_memory()
        for _ in range(40):
            dialogue.writer.write((b"x" * 98 + b"\r\n") * 1000)  # 4 MB in all
            await dialogue.writer.drain()
        await until(lambda: spool_files(smtp_lab) != [])
        await dialogue.close()
        await until(lambda: spool_files(smtp_lab) == [])
        await asyncio.sleep(0.2)
        held, _ = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
        gc.enable()
    assert held - before < 1024 * 1024, f"{(held - before) / 1024:.0f} KiB still held"
