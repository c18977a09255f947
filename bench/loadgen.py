"""A small asyncio load generator for IMAP, POP3 and SMTP, bounded in count and time.

The clients speak just enough of each protocol for the workloads of issue
#13 and count what the benchmark reports: commands (or messages) completed
with a positive reply, and errors (a NO/BAD/-ERR/4xx/5xx reply, a dropped
connection, a timeout). Every read has a timeout, every loop a deadline or a
count, so a misbehaving server ends a run instead of hanging it.
"""

from __future__ import annotations

import asyncio
import random
import re
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from email.utils import formatdate

HOST = "127.0.0.1"
#: Seconds one reply may take before the operation counts as an error.
REPLY_TIMEOUT = 30.0
_LITERAL = re.compile(rb"\{(\d+)\+?\}\r\n$")
#: Lines of one IMAP response read between two extensions of its timeout.
_PROGRESS_LINES = 256


@dataclass
class Tally:
    """What one workload run did: completed operations, errors and their first examples."""

    ok: int = 0
    errors: int = 0
    seconds: float = 0.0
    samples: list[str] = field(default_factory=list)
    latencies: list[float] = field(default_factory=list)

    def error(self, what: str) -> None:
        self.errors += 1
        if len(self.samples) < 5:
            self.samples.append(what[:160])

    @property
    def rate(self) -> float:
        return self.ok / self.seconds if self.seconds else 0.0


class ProtocolError(Exception):
    """A negative reply or a broken exchange: one error, the connection is dropped."""


def message(number: int, size: int, subject: str = "bench") -> bytes:
    """A plain RFC 5322 message of about ``size`` octets, CRLF line ends."""
    head = (
        f"From: Bench Sender <sender@bench.test>\r\nTo: <user@bench.test>\r\n"
        f"Subject: {subject} {number}\r\nDate: {formatdate(0)}\r\n"
        f"Message-ID: <{number}.{random.randrange(1 << 30)}@bench.test>\r\n\r\n"
    ).encode()
    line = b"The quick brown fox jumps over the lazy dog, said message %d.\r\n" % number
    body = line * max(1, (size - len(head)) // len(line))
    return head + body


class Connection:
    """A line-oriented client connection with a reply timeout on every read."""

    def __init__(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.reader = reader
        self.writer = writer

    @classmethod
    async def open(cls, port: int) -> Connection:
        async with asyncio.timeout(REPLY_TIMEOUT):
            reader, writer = await asyncio.open_connection(HOST, port, limit=1 << 20)
        return cls(reader, writer)

    # Timeouts are ``asyncio.timeout`` scopes, not ``asyncio.wait_for``: on
    # Python 3.11 every ``wait_for`` wraps its read in a new Task, which made
    # this client spend ~10 us per line it read (a 50,000-line FETCH, six
    # SMTP replies per message) on the same two cores as the servers it
    # measures, a cost the server under test paid for in lost CPU.

    async def line(self) -> bytes:
        async with asyncio.timeout(REPLY_TIMEOUT):
            data = await self.reader.readline()
        if not data:
            raise ProtocolError("connection closed by server")
        return data

    async def exactly(self, count: int) -> bytes:
        async with asyncio.timeout(REPLY_TIMEOUT):
            return await self.reader.readexactly(count)

    def send(self, data: bytes) -> None:
        self.writer.write(data)

    def close(self) -> None:
        self.writer.close()


class Imap(Connection):
    """IMAP4rev1 client: tagged commands, literals in responses, synchronizing APPEND."""

    tag_number = 0

    async def greeting(self) -> None:
        line = await self.line()
        if not line.startswith(b"* OK"):
            raise ProtocolError(f"IMAP greeting {line!r}")

    async def command(self, text: str, literal: bytes | None = None) -> list[bytes]:
        """Send one command, return its untagged lines; a tagged NO/BAD raises."""
        self.tag_number += 1
        tag = b"b%d" % self.tag_number
        if literal is None:
            self.send(tag + b" " + text.encode() + b"\r\n")
        else:
            self.send(tag + b" " + text.encode() + b" {%d}\r\n" % len(literal))
            await self.writer.drain()
            cont = await self.line()
            if not cont.startswith(b"+"):
                raise ProtocolError(f"{text.split()[0]}: {cont!r}")
            self.send(literal + b"\r\n")
        await self.writer.drain()
        return await self._response(tag, text)

    async def _response(self, tag: bytes, text: str) -> list[bytes]:
        """The untagged lines up to ``tag``'s completion, literals included.

        One timeout scope for the whole response, moved forward every
        ``_PROGRESS_LINES`` lines: no ``REPLY_TIMEOUT`` seconds may pass without
        that much progress, without a timer per line of a 50,000-line FETCH.
        """
        untagged: list[bytes] = []
        reader = self.reader
        tagged = tag + b" "
        loop = asyncio.get_running_loop()
        async with asyncio.timeout(REPLY_TIMEOUT) as budget:
            while True:
                line = await reader.readline()
                if not line.endswith(b"\r\n"):
                    raise ProtocolError("connection closed by server")
                while line.endswith(b"}\r\n") and (match := _LITERAL.search(line)) is not None:
                    line += await reader.readexactly(int(match.group(1)))
                    line += await reader.readline()
                if line.startswith(tagged):
                    if line[len(tagged) :].startswith(b"OK"):
                        return untagged
                    raise ProtocolError(f"{text.split()[0]}: {line.decode(errors='replace')}")
                untagged.append(line)
                if not len(untagged) % _PROGRESS_LINES:
                    budget.reschedule(loop.time() + REPLY_TIMEOUT)


class Pop3(Connection):
    async def reply(self) -> bytes:
        line = await self.line()
        if not line.startswith(b"+OK"):
            raise ProtocolError(f"POP3: {line!r}")
        return line

    async def multiline(self) -> int:
        """Read a dot-terminated response; return its line count.

        In a few reads up to a ``.CRLF`` under one timeout, not one timed read per
        line: at 60 lines per message, the per-line ``wait_for`` made this client
        the busiest process of the POP3 run, capping both servers' rates alike.
        """
        data = b""
        async with asyncio.timeout(REPLY_TIMEOUT):
            while data != b".\r\n" and not data.endswith(b"\r\n.\r\n"):
                piece = await self.reader.readuntil(b".\r\n")
                data += piece
        return data.count(b"\r\n") - 1

    async def command(self, text: str) -> bytes:
        self.send(text.encode() + b"\r\n")
        return await self.reply()


class Smtp(Connection):
    async def reply(self, want: bytes) -> bytes:
        """The last line of a (multi-line) reply, which must start with ``want``."""
        async with asyncio.timeout(REPLY_TIMEOUT):
            while True:
                line = await self.reader.readline()
                if not line:
                    raise ProtocolError("connection closed by server")
                if line[3:4] != b"-":
                    break
        if not line.startswith(want):
            raise ProtocolError(f"SMTP: {line!r}")
        return line


async def run_clients(
    clients: int, deadline: float, count: int | None, one: Callable[[int, Tally], Awaitable[None]]
) -> Tally:
    """``clients`` concurrent loops calling ``one`` until ``deadline`` or ``count`` calls."""
    tally = Tally()
    started = time.monotonic()
    issued = 0

    async def loop() -> None:
        nonlocal issued
        while time.monotonic() < deadline and (count is None or issued < count):
            issued += 1
            try:
                await one(issued, tally)
            except (ProtocolError, OSError, asyncio.IncompleteReadError) as exc:  # timeouts too
                tally.error(f"{type(exc).__name__}: {exc}")

    await asyncio.gather(*(loop() for _ in range(clients)))
    tally.seconds = time.monotonic() - started
    return tally


# -- the workloads --------------------------------------------------------------------------


async def imap_session(port: int, user: str, password: str, tally: Tally, size: int) -> None:
    """One connection of the mixed load: LOGIN, SELECT, FETCH flags/envelope/body,
    STORE flags, EXPUNGE (keeps the mailbox near 30), APPEND ~3 KB, LOGOUT.
    Every command answered OK counts; a tagged NO/BAD is an error."""
    imap = await Imap.open(port)
    try:
        await imap.greeting()

        async def run(text: str, literal: bytes | None = None) -> list[bytes]:
            lines = await imap.command(text, literal)
            tally.ok += 1
            return lines

        await run(f"LOGIN {user} {password}")
        exists = track_exists(0, await run("SELECT INBOX"))
        if exists:
            await run("FETCH 1:* (FLAGS ENVELOPE)")
            pick = random.randint(1, exists)
            await run(f"FETCH {pick} (FLAGS BODY[])")
            await run(f"STORE {pick} +FLAGS (\\Flagged)")
        if exists >= 30:
            await run(f"STORE 1:{exists - 29} +FLAGS.SILENT (\\Deleted)")
        await run("EXPUNGE")
        await run("APPEND INBOX (\\Seen)", message(random.randrange(1 << 20), size))
        await run("LOGOUT")
    finally:
        imap.close()


def track_exists(exists: int, untagged: list[bytes]) -> int:
    """The message count after these untagged responses (EXISTS sets it, EXPUNGE
    lowers it): a server may report another session's EXPUNGE right after SELECT."""
    for line in untagged:
        if line.endswith(b" EXISTS\r\n"):
            exists = int(line.split()[1])
        elif line.endswith(b" EXPUNGE\r\n"):
            exists -= 1
    return exists


async def pop3_session(port: int, user: str, password: str, tally: Tally) -> int:
    """USER/PASS, STAT, UIDL, RETR of every message, QUIT; returns messages read."""
    pop = await Pop3.open(port)
    try:
        await pop.reply()
        await pop.command(f"USER {user}")
        await pop.command(f"PASS {password}")
        stat = await pop.command("STAT")
        count = int(stat.split()[1])
        await pop.command("UIDL")
        await pop.multiline()
        for number in range(1, count + 1):
            await pop.command(f"RETR {number}")
            await pop.multiline()
        await pop.command("QUIT")
        tally.ok += 1
        return count
    finally:
        pop.close()


async def smtp_message(port: int, recipient: str, data: bytes, tally: Tally) -> None:
    """One connection, one 2 KB message: EHLO, MAIL, RCPT, DATA, QUIT; counts on 250."""
    smtp = await Smtp.open(port)
    try:
        await smtp.reply(b"220")
        smtp.send(b"EHLO bench.client\r\n")
        await smtp.reply(b"250")
        smtp.send(b"MAIL FROM:<sender@bench.test>\r\n")
        await smtp.reply(b"250")
        smtp.send(b"RCPT TO:<%s>\r\n" % recipient.encode())
        await smtp.reply(b"250")
        smtp.send(b"DATA\r\n")
        await smtp.reply(b"354")
        smtp.send(data + b".\r\n")
        await smtp.reply(b"250")
        tally.ok += 1
        smtp.send(b"QUIT\r\n")
        await smtp.reply(b"221")
    finally:
        smtp.close()


async def idle_sessions(port: int, users: list[str], count: int, batch: int = 100) -> list[Imap]:
    """``count`` sessions logged in with INBOX selected, left open (caller closes them)."""
    opened: list[Imap] = []

    async def one(index: int) -> None:
        user = users[index % len(users)]
        imap = await Imap.open(port)
        opened.append(imap)
        await imap.greeting()
        await imap.command(f"LOGIN {user} {user}-pw")
        await imap.command("SELECT INBOX")

    for start in range(0, count, batch):
        await asyncio.gather(*(one(i) for i in range(start, min(count, start + batch))))
    return opened


async def new_client_latency(port: int, user: str, samples: int) -> list[float]:
    """Seconds from connect to the SELECT's OK for fresh sessions, one after another."""
    times = []
    for _ in range(samples):
        started = time.monotonic()
        imap = await Imap.open(port)
        try:
            await imap.greeting()
            await imap.command(f"LOGIN {user} {user}-pw")
            await imap.command("SELECT INBOX")
            times.append(time.monotonic() - started)
            await imap.command("LOGOUT")
        finally:
            imap.close()
    return times
