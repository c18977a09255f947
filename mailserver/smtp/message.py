"""Turning what a client sent after DATA into the message we store.

Pure byte transformations, no I/O. The store gets a well-formed RFC 5322
message even from a student who typed only ``myemail``: the header section is
found (or found missing), ``From``/``Date``/``Message-ID`` are added when
absent, and each recipient's copy gets ``Return-Path`` and a ``Received``
trace field on top (RFC 5321 4.4).
"""

from __future__ import annotations

import email.utils
import functools
import ipaddress
from dataclasses import dataclass

# Re-exported: callers and tests have always found these here.
from mailserver.rfc5322 import HeaderSplit as HeaderSplit
from mailserver.rfc5322 import split_header as split_header

CRLF = b"\r\n"

#: Longest HELO argument copied into a trace field.
MAX_HELO_IN_TRACE = 255


def _fields(header: bytes) -> list[bytes]:
    """The header section as whole fields, each with its continuation lines."""
    fields: list[bytes] = []
    for line in _lines(header):
        if fields and line[:1] in (b" ", b"\t"):
            fields[-1] += line
        else:
            fields.append(line)
    return fields


def _lines(data: bytes) -> list[bytes]:
    """Split after each LF only; ``bytes.splitlines`` would also split at a stray CR."""
    parts = data.split(b"\n")
    lines = [part + b"\n" for part in parts[:-1]]
    return [*lines, parts[-1]] if parts[-1] else lines


def _field_name(field: bytes) -> str:
    return field.split(b":", 1)[0].strip().decode("ascii", "replace").lower()


@dataclass(frozen=True)
class Prepared:
    """The message minus the per-recipient trace fields; ``data`` is header + blank + body."""

    data: bytes


def prepare(
    content: bytes, *, sender: str, queue_id: str, hostname: str, timestamp: float
) -> Prepared:
    """Complete the header section; the body is left byte for byte as received.

    ``sender`` is the envelope reverse-path, ``""`` for the null sender. An
    existing ``Return-Path`` is dropped: only the final delivery may write one
    (RFC 5321 4.4), and we add ours per copy.
    """
    split = split_header(content)
    header = complete_header(
        split.header, sender=sender, queue_id=queue_id, hostname=hostname, timestamp=timestamp
    )
    return Prepared(header + CRLF + split.body)


def complete_header(
    header: bytes, *, sender: str, queue_id: str, hostname: str, timestamp: float
) -> bytes:
    """The header section with ``From``/``Date``/``Message-ID`` added when absent and
    ``Return-Path`` dropped, without the blank line: what :func:`prepare` does to
    the header, for a message whose body stays in a spool file."""
    fields = _fields(header)
    names = [_field_name(f) for f in fields]  # once per field (was twice)
    if "return-path" in names:
        fields = [f for f, name in zip(fields, names, strict=True) if name != "return-path"]
    present = set(names)
    added: list[str] = []
    if "from" not in present:
        added.append(f"From: <{sender}>" if sender else f"From: MAILER-DAEMON@{hostname}")
    if "date" not in present:
        added.append(f"Date: {rfc5322_date(timestamp)}")
    if "message-id" not in present:
        added.append(f"Message-ID: <{queue_id}@{hostname}>")
    return b"".join(fields) + b"".join(_encode(line) + CRLF for line in added)


#: The last (second, text) of :func:`rfc5322_date`.
_last_date: tuple[int, str] = (-1, "")


def rfc5322_date(timestamp: float) -> str:
    """The date as RFC 5322 writes it, local time, to the second.

    Every message formats it twice (``Date:`` if missing, ``Received:``);
    the messages of one second share the text, formatted once (it was about
    1% of the SMTP event loop under load)."""
    global _last_date
    second = int(timestamp)
    cached = _last_date
    if cached[0] == second:
        return cached[1]
    text = email.utils.formatdate(second, localtime=True)
    _last_date = (second, text)
    return text


@dataclass(frozen=True)
class Trace:
    """What the ``Received`` field records about one SMTP transaction."""

    helo: str
    client_ip: str
    #: Reverse-DNS name of the client, when known.
    client_name: str | None
    hostname: str
    #: RFC 3848 "with" keyword (SMTP, ESMTP, ESMTPSA ...), UTF8SMTP* per RFC 6531 3.7.3.
    protocol: str
    queue_id: str
    timestamp: float
    #: The account that authenticated (AUTH), shown as Postfix's
    #: ``smtpd_sasl_authenticated_header`` does; the ``A`` of ESMTPA says that it did.
    user: str | None = None


def with_protocol(extended: bool, tls: bool, authenticated: bool, utf8: bool = False) -> str:
    """The ``with`` keyword: RFC 3848's, or RFC 6531's ``UTF8SMTP...`` when the
    transaction used SMTPUTF8, so a reader of the trace knows the message may
    carry UTF-8 addresses and header fields."""
    if not extended:
        return "SMTP"
    base = "UTF8SMTP" if utf8 else "ESMTP"
    return base + ("S" if tls else "") + ("A" if authenticated else "")


@functools.lru_cache(maxsize=1024)
def address_literal(ip: str) -> str:
    """``[192.0.2.1]`` or ``[IPv6:2001:db8::1]`` (RFC 5321 4.1.3).

    Cached: parsing the client's address per message was 1% of the SMTP event
    loop, and a server hears from a bounded set of clients at a time."""
    try:
        parsed = ipaddress.ip_address(ip)
    except ValueError:
        return f"[{ip}]"
    if isinstance(parsed, ipaddress.IPv6Address):
        if parsed.ipv4_mapped is not None:
            return f"[{parsed.ipv4_mapped}]"
        return f"[IPv6:{parsed.compressed}]"
    return f"[{parsed}]"


def received_field(trace: Trace, recipient: str | None) -> bytes:
    """RFC 5321 4.4 ``Received:``, folded so no line grows long; without a
    ``for`` clause when the copy serves several recipients (their addresses
    are not for each other's eyes)."""
    literal = address_literal(trace.client_ip)
    tcp_info = f"{trace.client_name} {literal}" if trace.client_name else literal
    date = rfc5322_date(trace.timestamp)
    by = f"\tby {trace.hostname} (mailserver) with {trace.protocol} id {trace.queue_id}"
    lines = [f"Received: from {_clean_helo(trace.helo)} ({tcp_info})"]
    if trace.user:
        lines.append(f"\t(Authenticated sender: {_clean_helo(trace.user)})")
    if recipient is None:
        lines.append(f"{by}; {date}")
    else:
        lines += [by, f"\tfor <{recipient}>; {date}"]
    return b"".join(_encode(line) + CRLF for line in lines)


def trace_fields(trace: Trace, sender: str, recipient: str) -> bytes:
    """What goes on top of one recipient's copy: ``Return-Path``, then our ``Received``."""
    return _encode(f"Return-Path: <{sender}>") + CRLF + received_field(trace, recipient)


def delivered_copy(prepared: Prepared, trace: Trace, sender: str, recipient: str) -> bytes:
    """One recipient's copy: ``Return-Path`` first, then our ``Received``, then the message."""
    return trace_fields(trace, sender, recipient) + prepared.data


def _clean_helo(helo: str) -> str:
    """The client's HELO is free text: keep it printable and short in a header."""
    cleaned = helo.strip()
    if not cleaned.isprintable():  # the usual HELO is: no Python step per character
        cleaned = "".join(c if c.isprintable() else "?" for c in cleaned)
    return cleaned[:MAX_HELO_IN_TRACE] or "unknown"


def _encode(text: str) -> bytes:
    """UTF-8 (RFC 6532); SMTPUTF8 arguments may carry undecodable bytes as surrogates."""
    return text.encode("utf-8", "surrogateescape")
