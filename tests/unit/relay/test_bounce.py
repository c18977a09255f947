"""RFC 3464 / 6522 notifications parse with Python's email package."""

from __future__ import annotations

import email
import email.policy

from mailserver.relay import bounce
from mailserver.relay.queue import BOUNCED, Entry, RecipientState

ORIGINAL = b"From: a@group1.lab\r\nSubject: hello\r\n\r\nbody line\r\n"


def entry(ret: str | None = None) -> Entry:
    rcpt = RecipientState(
        address="x@group2.lab",
        orcpt="rfc822;boss+2Bx@group2.lab",
        state=BOUNCED,
        last_reply="550 5.1.1 <x@group2.lab>: User unknown",
        relay="mx.group2.lab[10.0.0.2]:25",
    )
    return Entry(id="0123456789AB", sender="a@group1.lab", recipients=[rcpt], ret=ret, envid="E1")


def parse(data: bytes) -> email.message.Message:
    return email.message_from_bytes(data, policy=email.policy.default)


def test_failure_report_returns_the_message() -> None:
    e = entry()
    report = parse(bounce.build(e, ORIGINAL, [bounce.Notice(e.recipients[0], "failed")], "mx", 9))
    assert report.get_content_type() == "multipart/report"
    assert report["To"] == "a@group1.lab" and report["Auto-Submitted"] == "auto-replied"
    text, status, returned = report.get_payload()
    assert "550 5.1.1" in text.get_content()
    per_message, per_rcpt = status.get_payload()
    assert per_message["Original-Envelope-Id"] == "E1"
    assert per_rcpt["Status"] == "5.1.1" and per_rcpt["Action"] == "failed"
    assert per_rcpt["Original-Recipient"] == "rfc822; boss+x@group2.lab"
    assert per_rcpt["Remote-MTA"] == "dns; mx.group2.lab"
    assert returned.get_content_type() == "message/rfc822"
    assert returned.get_payload()[0]["Subject"] == "hello"


def test_ret_hdrs_and_delay_notices_return_headers_only() -> None:
    e = entry(ret="HDRS")
    report = parse(bounce.build(e, ORIGINAL, [bounce.Notice(e.recipients[0], "failed")], "mx", 9))
    assert report.get_payload()[2].get_content_type() == "text/rfc822-headers"
    assert b"body line" not in report.get_payload()[2].as_bytes()
    delayed = parse(
        bounce.build(entry(), ORIGINAL, [bounce.Notice(e.recipients[0], "delayed")], "mx", 9)
    )
    assert delayed["Subject"] == "Delayed Mail (still being retried)"
    assert delayed.get_payload()[1].get_payload()[1]["Will-Retry-Until"]


def test_status_codes() -> None:
    assert bounce.status_code("550 5.1.1 nope", "failed") == "5.1.1"
    assert bounce.status_code("451 4.4.1 later", "failed") == "5.4.1"
    assert bounce.status_code("connect failed", "delayed") == "4.0.0"
