"""What students type in Windows telnet and ``nc``: backspaces inside a line, a
forgotten IMAP tag, and the bad-command limit, the same on SMTP, POP3 and IMAP.

Windows telnet sends the Backspace key as 0x08 inside the line (other
terminals send 0x7f). Command lines are edited as a terminal would; message
text (DATA) and IMAP literals are data and are stored exactly as sent.

``limits.max_bad_commands: N`` means: the N-th bad command still gets its own
error reply, then the server says goodbye and closes (SMTP ``421``, POP3
``-ERR``, IMAP ``* BYE``).
"""

from __future__ import annotations

from mailserver.config import Limits
from tests.dialogue import test_imap_rfc3501 as imap_harness
from tests.dialogue import test_pop3_rfc1939 as pop3_harness
from tests.dialogue import test_smtp_exercises as smtp_harness
from tests.dialogue.test_imap_rfc3501 import ImapLab
from tests.dialogue.test_imap_rfc3501 import LabFactory as ImapLabFactory
from tests.dialogue.test_pop3_rfc1939 import LabFactory as Pop3LabFactory
from tests.dialogue.test_pop3_rfc1939 import Pop3Lab
from tests.dialogue.test_smtp_exercises import SmtpLab, SmtpLabFactory

smtp_lab_factory = smtp_harness.smtp_lab_factory
smtp_lab = smtp_harness.smtp_lab
lab_factory = pop3_harness.lab_factory
pop3_lab = pop3_harness.pop3_lab
imap_lab_factory = imap_harness.imap_lab_factory
imap_lab = imap_harness.imap_lab

BS = b"\x08"
DEL = b"\x7f"

# ------------------------------------------------------------------ backspace


async def test_smtp_command_lines_are_edited_but_data_is_not(smtp_lab: SmtpLab) -> None:
    smtp = await smtp_lab.connect()
    await smtp.send(b"nooq" + BS + b"p")
    await smtp.expect("250 2.0.0 Ok")
    await smtp.send(b"HELO pcc" + DEL)
    await smtp.expect("250 *")
    await smtp.send(b"MAIL FROM:<group1_1@JServer.NetLab>")
    await smtp.expect("250 *")
    # Backspaces reaching back over the verb: RCPT is what the terminal shows.
    await smtp.send(b"RCTP" + BS * 2 + b"PT TO:<group1_x" + BS + b"2@JServer.NetLab>")
    await smtp.expect("250 *")
    await smtp.send(b"DATA")
    await smtp.expect("354 *")
    await smtp.send(b"Subject: typo" + BS + b"s\r\n\r\nbody\x7f\r\n.")
    await smtp.expect("250 *")
    [stored] = await smtp_lab.messages("group1_2")
    assert b"Subject: typo\x08s\r\n" in stored
    assert b"body\x7f\r\n" in stored


async def test_smtp_auth_answer_lines_are_edited(smtp_lab: SmtpLab) -> None:
    smtp = await smtp_lab.connect()
    await smtp.send("EHLO pc")
    while (await smtp.line()).startswith("250-"):
        pass
    await smtp.send(b"AUTH LOGIN")
    await smtp.expect("334 VXNlcm5hbWU6")
    await smtp.send(b"Z3JvdXAxXzE=")  # group1_1
    await smtp.expect("334 UGFzc3dvcmQ6")
    await smtp.send(b"Z3JvdXAxXzEX" + BS + b"=")  # a typo in the base64, erased
    await smtp.expect("235 2.7.0 Authentication successful")


async def test_pop3_user_name_with_a_backspace_logs_in(pop3_lab: Pop3Lab) -> None:
    pop3 = await pop3_lab.connect()
    await pop3.send(b"user group1_x" + BS + b"1")
    await pop3.expect("+OK*")
    await pop3.send(b"pass group1_1" + DEL + DEL + b"_1")
    await pop3.expect("+OK*")
    await pop3.send(b"stax" + BS + b"t")
    await pop3.expect("+OK 0 0")


async def test_imap_command_lines_are_edited_but_literals_are_not(imap_lab: ImapLab) -> None:
    imap = await imap_lab.connect()
    await imap.send(b"a1 LOGN" + BS + b"IN group1_1 group1_x" + DEL + b"1")
    await imap.expect("a1 OK * Logged in")
    message = b"Subject: keep" + BS + b"\r\n\r\nx\r\n"
    await imap.send(b"a2 APPENDD" + BS + b" INBOX {" + str(len(message)).encode() + b"}")
    await imap.expect("+ *")
    await imap.send(message + b" " + BS)  # the line after the literal is edited too
    await imap.expect("a2 OK *")
    [info] = (await imap_lab.snapshot()).messages
    folder = await (await imap_lab.store.mailbox("group1_1")).folder("INBOX")
    assert (await folder.read(info.uid)).startswith(b"Subject: keep\x08\r\n")


# ------------------------------------------------------------ missing IMAP tag


async def test_imap_command_without_a_tag_says_what_is_missing(imap_lab: ImapLab) -> None:
    imap = await imap_lab.connect()
    await imap.play(
        """
        C: login group1_2 group1_2
        S: * BAD Missing tag: every command starts with a tag, e.g. a1 LOGIN ...
        C: select inbox
        S: * BAD Missing tag: every command starts with a tag, e.g. a1 SELECT ...
        C: noop
        S: * BAD Missing tag: every command starts with a tag, e.g. a1 NOOP ...
        C: a1 login group1_2 group1_2
        S: a1 OK * Logged in
        """
    )


# ------------------------------------------------------- the bad-command limit

LIMIT = 4


async def test_smtp_closes_after_exactly_max_bad_commands(
    smtp_lab_factory: SmtpLabFactory,
) -> None:
    lab = await smtp_lab_factory(limits=Limits(max_bad_commands=LIMIT))
    smtp = await lab.connect()
    for _ in range(LIMIT - 1):
        await smtp.send("bogus")
        await smtp.expect("500 *")
    await smtp.play("C: NOOP\nS: 250 *\nC: bogus\nS: 500 *\nS: 421 4.7.0 Too many errors*")
    assert await smtp.closed()


async def test_pop3_closes_after_exactly_max_bad_commands(lab_factory: Pop3LabFactory) -> None:
    lab = await lab_factory(limits=Limits(max_bad_commands=LIMIT))
    pop3 = await lab.connect()
    for _ in range(LIMIT - 1):
        await pop3.send("bogus")
        await pop3.expect("-ERR unknown command")
    await pop3.play(
        "C: NOOP\nS: -ERR not logged in*\n"
        "C: bogus\nS: -ERR unknown command\nS: -ERR too many bad commands*"
    )
    assert await pop3.closed()


async def test_imap_closes_after_exactly_max_bad_commands(
    imap_lab_factory: ImapLabFactory,
) -> None:
    lab = await imap_lab_factory(limits=Limits(max_bad_commands=LIMIT))
    imap = await lab.connect()
    for n in range(LIMIT - 1):
        await imap.send(f"b{n} bogus")
        await imap.expect(f"b{n} BAD Unknown command")
    await imap.play("C: z bogus\nS: z BAD Unknown command\nS: * BYE Too many invalid commands")
    assert await imap.closed()
