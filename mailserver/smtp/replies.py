"""Every SMTP reply the server sends, in one place.

Students compare these lines with the textbook table, so the wording is
fixed here and nowhere else. Replies that aiosmtpd produces itself pass
through :func:`normalize` on their way out: known texts are replaced by
ours, and any 4xx/5xx reply still lacking an RFC 3463 enhanced status code
gets the customary one, because we advertise ENHANCEDSTATUSCODES.
"""

from __future__ import annotations

import re

# --- connection ------------------------------------------------------------
GREETING_IDENT = "ESMTP ready"  # aiosmtpd prints "220 <hostname> <ident>"
BYE = "221 2.0.0 Bye"
TOO_MANY_CONNECTIONS = "421 4.7.0 Too many connections, try again later"
TOO_MANY_ERRORS = "421 4.7.0 Too many errors, closing connection"
IDLE_TIMEOUT = "421 4.4.2 Idle timeout, closing connection"
SESSION_TOO_LONG = "421 4.4.2 Session time limit reached, closing connection"
SHUTTING_DOWN = "421 4.3.2 Server shutting down, try again later"
#: Never reaches the client: a failed handshake leaves no channel to say it on.
TLS_FAILED = "454 4.7.0 TLS handshake failed"

# --- simple commands -------------------------------------------------------
OK = "250 2.0.0 Ok"
VRFY_CANNOT = "252 2.5.0 Cannot VRFY user, but will accept message and attempt delivery"
VRFY_SYNTAX = "501 5.5.4 Syntax: VRFY <address>"
EXPN_NOT_SUPPORTED = "502 5.5.1 EXPN not supported"
HELP_UNKNOWN_TOPIC = "504 5.5.1 HELP topic unknown"
UNKNOWN_COMMAND = "500 5.5.2 Error: command not recognized"
NEED_HELO = "503 5.5.1 Error: send HELO/EHLO first"

# --- envelope --------------------------------------------------------------
SENDER_OK = "250 2.1.0 Ok"
RECIPIENT_OK = "250 2.1.5 Ok"
BAD_SENDER_ADDRESS = "553 5.1.7 Error: malformed sender address"
BAD_RECIPIENT_ADDRESS = "553 5.1.3 Error: malformed recipient address"
NULL_RECIPIENT = "501 5.1.3 Error: empty recipient address"
#: RFC 5321 3.6.2 / Postfix's "Relay access denied": a stranger naming a remote domain.
RELAY_DENIED = "554 5.7.1 Relaying denied"
TOO_MANY_RECIPIENTS = "452 4.5.3 Too many recipients"
MESSAGE_TOO_BIG = "552 5.3.4 Message too big"
#: A DATA line over ``limits.max_line_length`` (RFC 5321 4.5.3.1.6 allows 500 here).
LINE_TOO_LONG = "500 5.5.2 Line too long"
#: RCPT for a mailbox already at its quota: try again once the user made room.
MAILBOX_FULL_TRY_LATER = "452 4.2.2 Mailbox full"
#: aiosmtpd's own text for MAIL/RCPT/DATA before AUTH on the submission port.
AUTH_REQUIRED = "530 5.7.0 Authentication required"


def user_unknown(address: str) -> str:
    return f"550 5.1.1 <{address}>: Recipient address rejected: User unknown"


def sender_not_owned(user: str) -> str:
    return f"553 5.7.1 Sender address rejected: not owned by user {user}"


# --- data ------------------------------------------------------------------
START_DATA = "354 End data with <CR><LF>.<CR><LF>"
TEMPORARY_FAILURE = "451 4.3.0 Temporary failure, try again"
INSUFFICIENT_STORAGE = "452 4.3.1 Insufficient system storage"
#: RFC 5321 6.3: too many Received fields, a mail loop (RFC 3463 X.4.6).
TOO_MANY_HOPS = "554 5.4.6 Too many hops: mail loop detected"
#: Every upload's memory is spoken for (``limits.memory_budget``).
UPLOADS_BUSY = "452 4.3.1 Too many messages being received, try again later"
BDAT_SYNTAX = "501 5.5.4 Syntax: BDAT <size> [LAST]"
#: RFC 3030 3: no DATA for BODY=BINARYMIME or once BDAT chunks have been sent.
DATA_AFTER_BDAT = "503 5.5.1 Error: this message must be sent with BDAT"
#: The reply to a student whose ``nc`` sends bare LF (see protocol.BARE_LF_GRACE).
BARE_LF = (
    "554 5.5.2 Message not ended: lines must end with CRLF, and only <CR><LF>.<CR><LF> "
    'ends DATA (yours end with a bare LF). Use "nc -C" or telnet. Nothing was delivered'
)


def chunk_received(size: int) -> str:
    """The reply to a BDAT chunk that is not the LAST one."""
    return f"250 2.0.0 {size} octets received"


def header_too_big(limit: int) -> str:
    return f"552 5.3.4 Message header too large (limit {limit} octets)"


def mailbox_full(address: str) -> str:
    """DATA: the message does not fit in this recipient's quota (RFC 3463 X.2.2)."""
    return f"552 5.2.2 Mailbox full: <{address}>"


def queued(queue_id: str) -> str:
    return f"250 2.0.0 Ok: queued as {queue_id}"


# --- AUTH ------------------------------------------------------------------
AUTH_OK = "235 2.7.0 Authentication successful"
AUTH_FAILED = "535 5.7.8 Authentication credentials invalid"
AUTH_BAD_BASE64 = "501 5.5.2 Cannot decode response"
AUTH_CANCELLED = "501 5.7.0 Authentication cancelled"
AUTH_SYNTAX = "501 5.5.4 Syntax: AUTH mechanism [initial-response]"
AUTH_UNKNOWN_MECHANISM = "504 5.5.4 Unrecognized authentication type"
AUTH_ALREADY = "503 5.5.1 Error: already authenticated"
AUTH_IN_TRANSACTION = "503 5.5.1 Error: AUTH not allowed during a mail transaction"
AUTH_NEEDS_TLS = "538 5.7.11 Encryption required for requested authentication mechanism"


def auth_malformed(reason: str) -> str:
    """``reason`` comes from :class:`~mailserver.auth.sasl.SaslError`, written to be shown."""
    return f"501 5.5.2 {reason[:1].upper()}{reason[1:]}"


def login_blocked(reason: str) -> str:
    """The login brake (RFC 4954 6: 454 is a temporary authentication failure)."""
    return f"454 4.7.0 {reason[:1].upper()}{reason[1:]}"


def challenge(text: str) -> str:
    return f"334 {text}"


# --- replies produced by aiosmtpd itself -----------------------------------
#: Exact aiosmtpd texts we word differently.
_REWRITES: dict[str, str] = {
    "552 Error: Too much mail data": MESSAGE_TOO_BIG,
    "552 Error: message size exceeds fixed maximum message size": MESSAGE_TOO_BIG,
    "500 Line too long (see RFC5321 4.5.3.1.6)": LINE_TOO_LONG,
    "500 Error: bad syntax": "500 5.5.2 Error: bad syntax",
    "500 Command line too long": "500 5.5.2 Error: command line too long",
    "553 5.1.3 Error: malformed address": "553 5.1.3 Error: malformed address",
    "503 Error: need RCPT command": "503 5.5.1 Error: need RCPT command",
    "503 Error: need MAIL command": "503 5.5.1 Error: need MAIL command",
    "503 Error: nested MAIL command": "503 5.5.1 Error: nested MAIL command",
    "503 Error: send HELO first": NEED_HELO,
    "454 TLS not available": "454 4.7.0 TLS not available",
    "220 Ready to start TLS": "220 2.0.0 Ready to start TLS",
}

#: RFC 3463 detail codes customary for each basic reply code.
_DEFAULT_ENHANCED: dict[int, str] = {
    421: "4.7.0",
    450: "4.2.0",
    451: "4.3.0",
    452: "4.3.1",
    454: "4.7.0",
    500: "5.5.2",
    501: "5.5.4",
    502: "5.5.1",
    503: "5.5.1",
    504: "5.5.4",
    530: "5.7.0",
    550: "5.0.0",
    552: "5.3.4",
    553: "5.1.3",
    554: "5.0.0",
    555: "5.5.4",
}

_REPLY_RE = re.compile(r"(?P<code>[2-5]\d\d)(?P<sep>[ -])(?P<text>.*)", re.DOTALL)
_ENHANCED_RE = re.compile(r"[245]\.\d{1,3}\.\d{1,3}(?: |$)")


def normalize(reply: str) -> str:
    """Our wording for an aiosmtpd reply; our own replies pass unchanged."""
    rewritten = _REWRITES.get(reply)
    if rewritten is not None:
        return rewritten
    match = _REPLY_RE.fullmatch(reply)
    if match is None:
        return reply
    code = int(match["code"])
    if code < 400 or _ENHANCED_RE.match(match["text"]):
        return reply
    enhanced = _DEFAULT_ENHANCED.get(code, f"{code // 100}.0.0")
    return f"{match['code']}{match['sep']}{enhanced} {match['text']}"


def reply_code(reply: str) -> int | None:
    match = _REPLY_RE.fullmatch(reply)
    return int(match["code"]) if match else None
