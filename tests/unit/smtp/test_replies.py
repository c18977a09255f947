"""aiosmtpd's own replies get our wording and enhanced status codes."""

from __future__ import annotations

import pytest

from mailserver.smtp import replies


@pytest.mark.parametrize(
    ("stock", "ours"),
    [
        ("552 Error: Too much mail data", replies.MESSAGE_TOO_BIG),
        ("552 Error: message size exceeds fixed maximum message size", replies.MESSAGE_TOO_BIG),
        ("503 Error: send HELO first", replies.NEED_HELO),
        ("503 Error: need MAIL command", "503 5.5.1 Error: need MAIL command"),
        ("501 Syntax: MAIL FROM: <address>", "501 5.5.4 Syntax: MAIL FROM: <address>"),
        (
            "555 MAIL FROM parameters not recognized or not implemented",
            "555 5.5.4 MAIL FROM parameters not recognized or not implemented",
        ),
        ("502 Could not VRFY x", "502 5.5.1 Could not VRFY x"),
        ("599 odd", "599 5.0.0 odd"),
    ],
)
def test_stock_replies_are_normalized(stock: str, ours: str) -> None:
    assert replies.normalize(stock) == ours


@pytest.mark.parametrize(
    "reply",
    [
        "220 JServer.NetLab ESMTP ready",
        "250 JServer.NetLab",
        "250-PIPELINING",
        "334 VXNlcm5hbWU6",
        "354 End data with <CR><LF>.<CR><LF>",
        replies.RELAY_DENIED,
        replies.user_unknown("x@y"),
        replies.TEMPORARY_FAILURE,
    ],
)
def test_other_replies_pass_unchanged(reply: str) -> None:
    assert replies.normalize(reply) == reply


def test_reply_code() -> None:
    assert replies.reply_code("550 5.7.1 Relaying denied") == 550
    assert replies.reply_code("250-SIZE 1") == 250
    assert replies.reply_code("garbage") is None


def test_auth_malformed_is_capitalized() -> None:
    assert replies.auth_malformed("invalid base64") == "501 5.5.2 Invalid base64"
