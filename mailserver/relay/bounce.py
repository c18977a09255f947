"""Delivery status notifications: RFC 3464 reports in an RFC 6522 multipart/report.

A notification goes from the null sender ``<>`` (so it can never bounce
back, RFC 5321 4.5.5) to the original envelope sender. ``action`` is
``failed`` (a bounce), ``delayed`` (the delay warning), ``delivered`` or
``relayed`` (NOTIFY=SUCCESS). Failures return the whole message unless the
sender asked for headers only (``RET=HDRS``); other notices return headers.
"""

from __future__ import annotations

import re
import secrets
import time
from dataclasses import dataclass

from mailserver.relay.queue import Entry, RecipientState
from mailserver.smtp.dsn import xtext_decode
from mailserver.smtp.message import rfc5322_date, split_header

_ENHANCED = re.compile(r"^[245]\d\d[ -]([245]\.\d{1,3}\.\d{1,3})\b")

SUBJECTS = {
    "failed": "Undelivered Mail Returned to Sender",
    "delayed": "Delayed Mail (still being retried)",
    "delivered": "Successful Mail Delivery Report",
    "relayed": "Successful Mail Delivery Report",
}

INTRO = {
    "failed": (
        "I'm sorry to have to inform you that your message could not be delivered\n"
        "to one or more recipients. The reasons are given below.\n"
    ),
    "delayed": (
        "Your message could not be delivered yet. The server will keep trying;\n"
        "you do not have to send it again.\n"
    ),
    "delivered": "Your message was delivered to the recipients below.\n",
    "relayed": (
        "Your message was passed on to the recipients' servers below, which do not\n"
        "report delivery.\n"
    ),
}


@dataclass(frozen=True)
class Notice:
    recipient: RecipientState
    #: failed, delayed, delivered or relayed.
    action: str


def status_code(reply: str, action: str) -> str:
    """RFC 3463 code from the reply's enhanced code, else a generic one."""
    match = _ENHANCED.match(reply)
    if match:
        code = match.group(1)
        if action == "failed" and code.startswith("4"):
            return "5" + code[1:]
        return code
    return {"failed": "5.0.0", "delayed": "4.0.0"}.get(action, "2.0.0")


def build(
    entry: Entry, message: bytes, notices: list[Notice], hostname: str, lifetime: float
) -> bytes:
    """The whole notification message (CRLF line ends); ``lifetime`` is the
    queue lifetime, for a delay notice's Will-Retry-Until."""
    now = time.time()
    boundary = f"{entry.id}.{secrets.token_hex(8)}/{hostname}"
    kind = notices[0].action
    human = [
        f"This is the mail system at host {hostname}.",
        "",
        INTRO[kind].rstrip("\n"),
        "",
    ]
    for notice in notices:
        rcpt = notice.recipient
        where = f" (relay {rcpt.relay})" if rcpt.relay else ""
        human.append(f"<{rcpt.address}>{where}: {rcpt.last_reply or notice.action}")
    per_message = [f"Reporting-MTA: dns; {hostname}"]
    if entry.envid:
        per_message.append(f"Original-Envelope-Id: {xtext_decode(entry.envid)}")
    per_message.append(f"Arrival-Date: {rfc5322_date(entry.created)}")
    status_blocks: list[list[str]] = []
    for notice in notices:
        rcpt = notice.recipient
        block: list[str] = []
        if rcpt.orcpt:
            kind_text, _, address = rcpt.orcpt.partition(";")
            block.append(f"Original-Recipient: {kind_text}; {xtext_decode(address)}")
        block += [
            f"Final-Recipient: rfc822; {rcpt.address}",
            f"Action: {notice.action}",
            f"Status: {status_code(rcpt.last_reply, notice.action)}",
        ]
        if rcpt.relay and rcpt.relay != "local":
            block.append(f"Remote-MTA: dns; {rcpt.relay.split('[')[0]}")
        if rcpt.last_reply and _ENHANCED.match(rcpt.last_reply):
            block.append(f"Diagnostic-Code: smtp; {rcpt.last_reply}")
        elif rcpt.last_reply:
            block.append(f"Diagnostic-Code: X-mailserver; {rcpt.last_reply}")
        block.append(f"Last-Attempt-Date: {rfc5322_date(now)}")
        if notice.action == "delayed":
            block.append(f"Will-Retry-Until: {rfc5322_date(entry.created + lifetime)}")
        status_blocks.append(block)
    full = kind == "failed" and entry.ret != "HDRS"
    original = message if full else split_header(message).header
    header = [
        f"From: Mail Delivery System <MAILER-DAEMON@{hostname}>",
        f"To: <{entry.sender}>",
        f"Subject: {SUBJECTS[kind]}",
        f"Date: {rfc5322_date(now)}",
        f"Message-ID: <{entry.id}.{secrets.token_hex(4)}.dsn@{hostname}>",
        "Auto-Submitted: auto-replied",
        "MIME-Version: 1.0",
        "Content-Type: multipart/report; report-type=delivery-status;",
        f'\tboundary="{boundary}"',
    ]
    parts = [
        "\r\n".join(header),
        "",
        "This is a MIME-encapsulated message.",
        "",
        f"--{boundary}",
        "Content-Description: Notification",
        "Content-Type: text/plain; charset=utf-8",
        "",
        "\r\n".join(human),
        "",
        f"--{boundary}",
        "Content-Description: Delivery report",
        "Content-Type: message/delivery-status",
        "",
        "\r\n".join(per_message),
        "",
        "\r\n\r\n".join("\r\n".join(block) for block in status_blocks),
        "",
        f"--{boundary}",
        "Content-Description: " + ("Undelivered Message" if full else "Message Headers"),
        "Content-Type: " + ("message/rfc822" if full else "text/rfc822-headers"),
        "",
        "",
    ]
    head = "\r\n".join(parts).encode("utf-8", "surrogateescape")
    original = _crlf(original)
    if not original.endswith(b"\r\n"):
        original += b"\r\n"
    return head + original + f"\r\n--{boundary}--\r\n".encode()


def _crlf(data: bytes) -> bytes:
    return re.sub(rb"\r?\n", b"\r\n", data)
