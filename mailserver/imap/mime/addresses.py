"""RFC 5322 address lists -> ENVELOPE address structures (RFC 3501 7.4.2).

A hand-written tokenizer rather than ``email.utils.getaddresses`` because the
envelope needs what that hides: group syntax (start and end markers), source
routes, quoted local parts kept as written, and display names left exactly as
sent (encoded words are *not* decoded). Input that does not parse still yields
something well-formed, with Dovecot's placeholders for missing pieces.
"""

from __future__ import annotations

import re
from typing import Final, NamedTuple

MISSING_MAILBOX: Final = "MISSING_MAILBOX"
MISSING_DOMAIN: Final = "MISSING_DOMAIN"

_SPECIALS: Final = set('()<>@,;:\\".[]')


class Address:
    """``(name adl mailbox host)``; a group start has only ``mailbox``, a group end nothing.

    Immutable by convention, compared and hashed by value; a plain class
    rather than a frozen dataclass so that mypyc compiles its constructor
    (``mailserver/native.py``).
    """

    __slots__ = ("adl", "host", "mailbox", "name")

    def __init__(
        self, name: str | None, adl: str | None, mailbox: str | None, host: str | None
    ) -> None:
        self.name = name
        self.adl = adl
        self.mailbox = mailbox
        self.host = host

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, Address):
            return NotImplemented
        return (self.name, self.adl, self.mailbox, self.host) == (
            other.name,
            other.adl,
            other.mailbox,
            other.host,
        )

    def __hash__(self) -> int:
        return hash((self.name, self.adl, self.mailbox, self.host))

    def __repr__(self) -> str:
        return f"Address({self.name!r}, {self.adl!r}, {self.mailbox!r}, {self.host!r})"


GROUP_END: Final = Address(None, None, None, None)


class _Token(NamedTuple):
    """A NamedTuple, not a frozen dataclass: a long address list makes thousands
    of these, and a frozen dataclass's ``__init__`` costs several times more."""

    kind: str  # "atom", "quoted", "comment", "literal", or the special character itself
    text: str  # unescaped text (no quotes / parentheses)
    raw: str  # as written
    space_before: bool


#: An atom: a run of anything but specials and blanks.
_ATOM_RUN: Final = re.compile(r'[^()<>@,;:\\".\[\] \t\r\n]+')


def _tokenize(text: str) -> list[_Token]:
    tokens: list[_Token] = []
    i = 0
    n = len(text)
    space = False
    while i < n:
        c = text[i]
        if c in " \t\r\n":
            space = True
            i += 1
            continue
        start = i
        if c == '"':
            buf: list[str] = []
            i += 1
            while i < n and text[i] != '"':
                if text[i] == "\\" and i + 1 < n:
                    i += 1
                if text[i] not in "\r\n":
                    buf.append(text[i])
                i += 1
            i += 1
            tokens.append(_Token("quoted", "".join(buf), text[start:i], space))
        elif c == "(":
            depth = 0
            buf = []
            while i < n:
                ch = text[i]
                if ch == "\\" and i + 1 < n:
                    buf.append(text[i + 1])
                    i += 2
                    continue
                if ch == "(":
                    depth += 1
                    if depth > 1:
                        buf.append(ch)
                elif ch == ")":
                    depth -= 1
                    if depth == 0:
                        i += 1
                        break
                    buf.append(ch)
                else:
                    buf.append(ch)
                i += 1
            tokens.append(_Token("comment", "".join(buf).strip(), text[start:i], space))
        elif c == "[":
            end = text.find("]", i)
            i = n if end < 0 else end + 1
            tokens.append(_Token("literal", text[start:i], text[start:i], space))
        elif c in _SPECIALS:
            i += 1
            tokens.append(_Token(c, c, c, space))
        else:
            match = _ATOM_RUN.match(text, i)
            i = match.end() if match is not None else i + 1
            tokens.append(_Token("atom", text[start:i], text[start:i], space))
        space = False
    return tokens


def parse_address_list(text: str) -> list[Address]:
    tokens = [t for t in _tokenize(text)]
    result: list[Address] = []
    in_group = False
    segment: list[_Token] = []
    angle = 0
    for token in tokens:
        kind = token.kind
        if kind == "<":
            angle += 1
        elif kind == ">" and angle:
            angle -= 1
        if angle:
            segment.append(token)
            continue
        if kind == ",":
            _emit(segment, result)
            segment = []
        elif kind == ":" and not in_group and not any(t.kind in ("@", "<") for t in segment):
            result.append(Address(None, None, _phrase(segment) or "", None))
            segment = []
            in_group = True
        elif kind == ";" and in_group:
            _emit(segment, result)
            segment = []
            result.append(GROUP_END)
            in_group = False
        else:
            segment.append(token)
    _emit(segment, result)
    if in_group:
        result.append(GROUP_END)
    return result


def _phrase(tokens: list[_Token]) -> str | None:
    """Display-name words joined with single blanks where the source had blanks."""
    out: list[str] = []
    for token in tokens:
        if token.kind == "comment":
            continue
        if out and token.space_before:
            out.append(" ")
        out.append(token.text if token.kind == "quoted" else token.raw)
    text = "".join(out).strip()
    return text or None


def _join(tokens: list[_Token]) -> str:
    return "".join(t.raw for t in tokens if t.kind != "comment")


def _emit(segment: list[_Token], result: list[Address]) -> None:
    if not any(t.kind != "comment" for t in segment):
        return
    comments = [t.text for t in segment if t.kind == "comment" and t.text]
    if any(t.kind == "<" for t in segment):
        open_at = next(i for i, t in enumerate(segment) if t.kind == "<")
        close_at = next(
            (i for i, t in enumerate(segment) if t.kind == ">" and i > open_at), len(segment)
        )
        name = _phrase(segment[:open_at])
        inner = segment[open_at + 1 : close_at]
        adl = None
        colon = next((i for i, t in enumerate(inner) if t.kind == ":"), None)
        if colon is not None and inner and inner[0].kind == "@":
            adl = _join(inner[:colon]) or None
            inner = inner[colon + 1 :]
        mailbox, host = _addr_spec(inner)
        if name is None and comments:
            name = comments[-1]
        result.append(Address(name, adl, mailbox, host))
        return
    mailbox, host = _addr_spec(segment)
    name = comments[-1] if comments else None
    result.append(Address(name, None, mailbox, host))


def _addr_spec(tokens: list[_Token]) -> tuple[str, str]:
    at = None
    for i in range(len(tokens) - 1, -1, -1):
        if tokens[i].kind == "@":
            at = i
            break
    if at is None:
        local = _phrase(tokens) if any(t.space_before for t in tokens[1:]) else _join(tokens)
        return local or MISSING_MAILBOX, MISSING_DOMAIN
    local = _join(tokens[:at])
    domain = _join(tokens[at + 1 :])
    return local or MISSING_MAILBOX, domain or MISSING_DOMAIN
