"""The login brake says what it is: a blocked address gets a temporary refusal naming
the seconds left (POP3 ``-ERR [SYS/TEMP]``, IMAP ``NO [UNAVAILABLE]``, SMTP
``454 4.7.0``), even with the right password, and the log says "blocked", not
"failed login". Addresses in ``auth.exempt_networks`` are slowed, never blocked.
"""

from __future__ import annotations

import base64
import logging
import re

import pytest

from mailserver.config import AuthSettings
from tests.dialogue import test_imap_rfc3501 as imap_harness
from tests.dialogue import test_pop3_rfc1939 as pop3_harness
from tests.dialogue import test_smtp_exercises as smtp_harness
from tests.dialogue.test_imap_rfc3501 import LabFactory as ImapLabFactory
from tests.dialogue.test_pop3_rfc1939 import LabFactory as Pop3LabFactory
from tests.dialogue.test_smtp_exercises import SmtpLabFactory

smtp_lab_factory = smtp_harness.smtp_lab_factory
lab_factory = pop3_harness.lab_factory
imap_lab_factory = imap_harness.imap_lab_factory

#: Two failures block the address for 300 s; no delays, so the tests stay fast.
BRAKE = AuthSettings(free_failures=10, block_after_failures=2, block_seconds=300)
EXEMPT = AuthSettings(
    free_failures=10, block_after_failures=2, block_seconds=300, exempt_networks=("127.0.0.0/8",)
)
SECONDS = "29[0-9] seconds|300 seconds"


def b64(text: str) -> str:
    return base64.b64encode(text.encode()).decode()


def assert_logged_as_block(caplog: pytest.LogCaptureFixture, failures: int) -> None:
    messages = [record.getMessage() for record in caplog.records]
    assert any("blocked" in m and "127.0.0.1" in m and "refused" in m for m in messages), messages
    failed = [m for m in messages if "fail" in m.lower() and "group1_1" in m]
    assert len(failed) == failures, failed


async def test_pop3_blocked_address_is_told_to_wait(
    lab_factory: Pop3LabFactory, caplog: pytest.LogCaptureFixture
) -> None:
    lab = await lab_factory(auth=BRAKE)
    pop3 = await lab.connect()
    for _ in range(2):
        await pop3.play("C: USER group1_1\nS: +OK*\nC: PASS wrong\nS: -ERR [AUTH] *")
    caplog.clear()
    with caplog.at_level(logging.INFO):
        await pop3.play("C: USER group1_1\nS: +OK*")
        await pop3.send("PASS group1_1")
        reply = await pop3.expect("-ERR [SYS/TEMP] *")
        await pop3.send(f"AUTH PLAIN {b64(chr(0) + 'group1_1' + chr(0) + 'group1_1')}")
        await pop3.expect("-ERR [SYS/TEMP] *")
    assert re.search(SECONDS, reply), reply
    assert_logged_as_block(caplog, failures=0)


async def test_imap_blocked_address_is_told_to_wait(
    imap_lab_factory: ImapLabFactory, caplog: pytest.LogCaptureFixture
) -> None:
    lab = await imap_lab_factory(auth=BRAKE)
    imap = await lab.connect()
    await imap.play(
        """
        C: a1 LOGIN group1_1 wrong
        S: a1 NO [AUTHENTICATIONFAILED] *
        C: a2 LOGIN group1_1 wrong
        S: a2 NO [AUTHENTICATIONFAILED] *
        """
    )
    caplog.clear()
    with caplog.at_level(logging.INFO):
        await imap.send("a3 LOGIN group1_1 group1_1")
        reply = await imap.expect("a3 NO [UNAVAILABLE] *")
        await imap.send(f"a4 AUTHENTICATE PLAIN {b64(chr(0) + 'group1_1' + chr(0) + 'group1_1')}")
        await imap.expect("a4 NO [UNAVAILABLE] *")
    assert re.search(SECONDS, reply), reply
    assert_logged_as_block(caplog, failures=0)


async def test_smtp_blocked_address_is_told_to_wait(
    smtp_lab_factory: SmtpLabFactory, caplog: pytest.LogCaptureFixture
) -> None:
    lab = await smtp_lab_factory(auth=BRAKE)
    smtp = await lab.connect()
    await smtp.play("C: HELO pc\nS: 250 *")
    wrong = b64(chr(0) + "group1_1" + chr(0) + "wrong")
    for _ in range(2):
        await smtp.play(f"C: AUTH PLAIN {wrong}\nS: 535 5.7.8 *")
    caplog.clear()
    with caplog.at_level(logging.INFO):
        right = b64(chr(0) + "group1_1" + chr(0) + "group1_1")
        await smtp.send(f"AUTH PLAIN {right}")
        reply = await smtp.expect("454 4.7.0 *")
        await smtp.play(f"C: AUTH LOGIN\nS: 334 *\nC: {b64('group1_1')}\nS: 334 *")
        await smtp.send(b64("group1_1"))
        await smtp.expect("454 4.7.0 *")
    assert re.search(SECONDS, reply), reply
    assert_logged_as_block(caplog, failures=0)
    await smtp.play("C: NOOP\nS: 250 *")  # the session goes on


async def test_exempt_networks_are_slowed_but_never_blocked_pop3(
    lab_factory: Pop3LabFactory,
) -> None:
    pop3 = await (await lab_factory(auth=EXEMPT)).connect()
    for _ in range(5):
        await pop3.play("C: USER group1_1\nS: +OK*\nC: PASS wrong\nS: -ERR [AUTH] *")
    await pop3.play("C: USER group1_1\nS: +OK*\nC: PASS group1_1\nS: +OK*")


async def test_exempt_networks_are_slowed_but_never_blocked_imap(
    imap_lab_factory: ImapLabFactory,
) -> None:
    imap = await (await imap_lab_factory(auth=EXEMPT)).connect()
    for n in range(5):
        await imap.play(f"C: a{n} LOGIN group1_1 wrong\nS: a{n} NO [AUTHENTICATIONFAILED] *")
    await imap.play("C: z LOGIN group1_1 group1_1\nS: z OK * Logged in")
