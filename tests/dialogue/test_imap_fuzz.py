"""Over-the-socket fuzz: mutated commands (and well-framed literals with hostile
contents) sent to a logged-in session with a mailbox selected.

Each fuzz input is followed by a ``NOOP`` with a tag of our own; the test
reads up to that NOOP's completion. Every input must get at least one
response line, the session must survive (no input here is one the protocol
lets the server hang up on), and no command may end in the server's
internal-error reply. The same seed and scale knobs as the parser fuzz
(``tests/support/imapfuzz.py``) apply; this test uses 1/200 of the inputs.
"""

from __future__ import annotations

import logging
import random
from dataclasses import replace

import pytest

from mailserver.config.model import Limits
from mailserver.imap.parser.commands import parse_command
from tests.dialogue import test_imap_rfc3501 as harness
from tests.dialogue.test_imap_rfc3501 import RFC_MESSAGE, ImapLab, LabFactory
from tests.support.imapfuzz import ITERATIONS, SEED, Mutator, literal_command, socket_safe

imap_lab_factory = harness.imap_lab_factory

#: Commands that leave the command/response rhythm (or the selected state) on purpose.
_SKIPPED = frozenset(
    {"LOGOUT", "IDLE", "AUTHENTICATE", "STARTTLS", "SELECT", "EXAMINE", "CLOSE", "UNSELECT"}
)


def inputs(count: int) -> list[bytes]:
    mutator = Mutator(SEED + 1)
    rng = random.Random(SEED + 2)
    out: list[bytes] = []
    while len(out) < count:
        if rng.random() < 0.15:
            out.append(b"f%d " % len(out) + literal_command(rng))
            continue
        line = socket_safe(mutator.input())
        parsed = parse_command(line)
        if parsed.name is not None and parsed.name.split()[-1] in _SKIPPED:
            continue
        out.append(line)
    return out


@pytest.fixture
async def lab(imap_lab_factory: LabFactory) -> ImapLab:
    # Fuzz input is mostly invalid: the bad-command cut-off would end the run early.
    limits = replace(Limits(), max_bad_commands=1_000_000)
    lab = await imap_lab_factory(limits=limits)
    for _ in range(3):
        await lab.deliver(RFC_MESSAGE)
    return lab


async def test_every_fuzz_input_is_answered_and_the_session_survives(
    lab: ImapLab, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.ERROR, logger="mailserver")
    client = await lab.login()
    await client.send("s SELECT INBOX")
    while not (await client.line()).startswith("s "):
        pass
    for n, data in enumerate(inputs(max(50, ITERATIONS // 200))):
        client.writer.write(data + b"\r\n" + b"zz%dq NOOP\r\n" % n)
        await client.writer.drain()
        answers: list[bytes] = []
        try:
            while not (line := await client.line_bytes()).startswith(b"zz%dq " % n):
                answers.append(line)
        except EOFError:
            raise AssertionError(f"session ended after {data!r}: {answers!r}") from None
        assert answers, f"no answer to {data!r}"
        assert line.startswith(b"zz%dq OK" % n), (data, line)
        assert not any(b"[SERVERBUG]" in a for a in answers), (data, answers)
        if any(a.startswith(b"* BYE") for a in answers):
            raise AssertionError(f"BYE after {data!r}: {answers!r}")
    assert not [r for r in caplog.records if r.levelno >= logging.ERROR]
