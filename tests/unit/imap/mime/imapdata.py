"""Test helpers: an IMAP s-expression reader and a naive reference MIME splitter.

The splitter is deliberately independent of ``mailserver.imap.mime``: headers
via the stdlib email package, bodies by plain ``bytes.split`` on
``CRLF--boundary``. It only has to be right for the corpus's well-formed parts;
sizes and line counts in BODYSTRUCTURE are checked against it.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from email.message import Message
from email.parser import BytesHeaderParser
from email.policy import compat32
from typing import Any

Sexp = Any


class Placeholder(str):
    """An atom in an expected string (``SIZE``, ``LINES``): filled by the oracle."""


def read_sexp(data: bytes) -> Sexp:
    """Parse one IMAP value: lists, NIL, numbers, quoted strings, literals, atoms."""
    value, pos = _read(data, 0)
    if data[pos:].strip():
        raise ValueError(f"trailing data at {pos}: {data[pos : pos + 20]!r}")
    return value


def _read(data: bytes, pos: int) -> tuple[Sexp, int]:
    while data[pos : pos + 1] == b" ":
        pos += 1
    c = data[pos : pos + 1]
    if c == b"(":
        items: list[Sexp] = []
        pos += 1
        while True:
            while data[pos : pos + 1] == b" ":
                pos += 1
            if data[pos : pos + 1] == b")":
                return items, pos + 1
            item, pos = _read(data, pos)
            items.append(item)
    if c == b'"':
        out = bytearray()
        pos += 1
        while data[pos : pos + 1] != b'"':
            if data[pos : pos + 1] == b"\\":
                pos += 1
            if data[pos : pos + 1] in (b"", b"\r", b"\n"):
                raise ValueError("bad quoted string")
            out += data[pos : pos + 1]
            pos += 1
        return bytes(out), pos + 1
    if c == b"{":
        match = re.compile(rb"\{(\d+)\}\r\n").match(data, pos)
        if match is None:
            raise ValueError("bad literal")
        start = match.end()
        end = start + int(match.group(1))
        return data[start:end], end
    match = re.compile(rb"[^ ()\"{]+").match(data, pos)
    if match is None:
        raise ValueError(f"unexpected {data[pos : pos + 10]!r} at {pos}")
    atom = match.group().decode()
    if atom == "NIL":
        return None, match.end()
    if atom.isdigit():
        return int(atom), match.end()
    return Placeholder(atom), match.end()


@dataclass
class RefPart:
    """Header and body bytes of one part according to the naive splitter."""

    header: Message
    body: bytes
    children: list[RefPart]
    message: RefPart | None

    @property
    def size(self) -> int:
        return len(self.body)

    @property
    def lines(self) -> int:
        return self.body.count(b"\n")


def reference(data: bytes, default: str = "text/plain") -> RefPart:
    split = data.find(b"\r\n\r\n")
    if data.startswith(b"\r\n"):
        head, body = b"", data[2:]
    elif split < 0:
        head, body = data, b""
    else:
        head, body = data[: split + 2], data[split + 4 :]
    header = BytesHeaderParser(policy=compat32).parsebytes(head)
    ctype = header.get_content_type() if header.get("Content-Type") else default
    boundary = header.get_param("boundary")
    if ctype.startswith("multipart/") and isinstance(boundary, str):
        boundary = re.sub(r"\r?\n", "", boundary)  # a folded parameter
        child_default = "message/rfc822" if ctype == "multipart/digest" else "text/plain"
        # RFC 2046: the delimiter is followed by "--", transport padding or the line end.
        delimiter = re.compile(
            b"\r\n--" + re.escape(boundary.encode()) + rb"(?=--|[ \t]*(?:\r\n|$))"
        )
        pieces = delimiter.split(b"\r\n" + body)
        children = []
        for piece in pieces[1:]:
            if piece.startswith(b"--"):
                break
            line_end = piece.find(b"\r\n")
            content = b"" if line_end < 0 else piece[line_end + 2 :]
            children.append(reference(content, child_default))
        return RefPart(header, body, children, None)
    if ctype == "message/rfc822":
        return RefPart(header, body, [], reference(body))
    return RefPart(header, body, [], None)


def crlf(data: bytes) -> bytes:
    """What the store hands out: every line end a CRLF."""
    return data.replace(b"\r\n", b"\n").replace(b"\n", b"\r\n")
