"""DSN parameters (RFC 3461) on MAIL and RCPT: accepted after EHLO, checked,
kept with the queued message; refused after plain HELO."""

from __future__ import annotations

import json

from tests.dialogue import test_smtp_exercises as harness
from tests.dialogue.test_smtp_exercises import SmtpLab

smtp_lab_factory = harness.smtp_lab_factory
smtp_lab = harness.smtp_lab


async def test_dsn_parameters_are_checked_and_kept(smtp_lab: SmtpLab) -> None:
    dialogue = await smtp_lab.connect()
    await dialogue.play("""
        C: EHLO pc
        S: 250-JServer.NetLab
        S: 250-PIPELINING
        S: 250-SIZE *
        S: 250-*
        S: 250-8BITMIME
        S: 250-ENHANCEDSTATUSCODES
        S: 250-SMTPUTF8
        S: 250-DSN
        S: 250-CHUNKING
        S: 250 BINARYMIME
        C: MAIL FROM:<group1_1@JServer.NetLab> RET=EVERYTHING
        S: 501 5.5.4 RET must be FULL or HDRS
        C: MAIL FROM:<group1_1@JServer.NetLab> RET=hdrs ENVID=lab+2B6 SIZE=100
        S: 250 2.1.0 Ok
        C: RCPT TO:<group1_2@JServer.NetLab> NOTIFY=NEVER,SUCCESS
        S: 501 5.5.4 NOTIFY must be NEVER or a list of SUCCESS, FAILURE, DELAY
        C: RCPT TO:<group1_2@JServer.NetLab> NOTIFY=success ORCPT=rfc822;Nick@JServer.NetLab
        S: 250 2.1.5 Ok
        C: RCPT TO:<group1_3@JServer.NetLab> NOTIFY=never
        S: 250 2.1.5 Ok
        C: DATA
        S: 354 *
        C: Subject: report back
        C:
        C: hi
        C: .
        S: 250 2.0.0 Ok: queued as *
    """)
    assert len(await smtp_lab.messages("group1_2")) == 1
    assert len(await smtp_lab.messages("group1_3")) == 1
    # The success notice for group1_2 is owed: the queue keeps a record to write it.
    [entry_file] = (smtp_lab.config.data_dir / "queue").glob("*.json")
    entry = json.loads(entry_file.read_text())
    assert (entry["ret"], entry["envid"]) == ("HDRS", "lab+2B6")
    [rcpt] = entry["recipients"]
    assert rcpt["address"] == "group1_2@JServer.NetLab" and rcpt["state"] == "sent"
    assert rcpt["notify"] == ["SUCCESS"] and rcpt["orcpt"] == "rfc822;Nick@JServer.NetLab"


async def test_no_dsn_parameters_after_helo(smtp_lab: SmtpLab) -> None:
    dialogue = await smtp_lab.connect()
    await dialogue.play("""
        C: HELO pc
        S: 250 *
        C: MAIL FROM:<group1_1@JServer.NetLab> RET=FULL
        S: 501 5.5.4 Syntax: MAIL FROM: <address>
        C: MAIL FROM:<group1_1@JServer.NetLab>
        S: 250 2.1.0 Ok
        C: RCPT TO:<group1_2@JServer.NetLab> NOTIFY=NEVER
        S: 501 5.5.4 Syntax: RCPT TO: <address>
    """)
