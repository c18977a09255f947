"""A cursor over one complete command: the line(s) plus the literals in them.

The session hands over the command exactly as it crossed the wire, literals
included (``{n}\\r\\n`` followed by ``n`` octets), so the grammar functions
here never wait for input and never see more than the session admitted.
Every function raises :class:`ParseError` with a reason fit for ``BAD``.
"""

from __future__ import annotations

import re

from mailserver import mutf7

#: RFC 3501 atom-specials (plus CTL and 8-bit, checked separately).
ATOM_SPECIALS = frozenset(b'(){ %*"\\]')
LIST_WILDCARDS = frozenset(b"%*")
_LITERAL_RE = re.compile(rb"\{(\d{1,20})(\+?)\}\r\n")


class ParseError(Exception):
    """The command does not follow the grammar; ``reason`` goes after ``BAD``."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


class BadMailboxName(ParseError):
    """Valid syntax naming no possible mailbox (not modified UTF-7): ``NO``, not ``BAD``.

    ``&`` starts a modified UTF-7 escape, so an atom like ``a&b`` is a name
    no folder can have; Dovecot answers it with ``NO``, like any name that
    does not exist, and a compliance suite expects just that.
    """


def is_atom_char(byte: int) -> bool:
    return 0x20 < byte < 0x7F and byte not in ATOM_SPECIALS


def is_astring_char(byte: int) -> bool:
    return is_atom_char(byte) or byte == ord("]")


class Cursor:
    """Position in a command; methods consume one grammar element each."""

    def __init__(self, data: bytes, pos: int = 0, utf8_names: bool = False) -> None:
        self.data = data
        self.pos = pos
        #: Mailbox names are UTF-8, not modified UTF-7 (UTF8=ACCEPT enabled, RFC 6855).
        self.utf8_names = utf8_names

    # ------------------------------------------------------------ basics

    def at_end(self) -> bool:
        return self.pos >= len(self.data)

    def peek(self) -> int | None:
        return self.data[self.pos] if self.pos < len(self.data) else None

    def peek_is(self, char: bytes) -> bool:
        return self.data.startswith(char, self.pos)

    def take(self, char: bytes) -> bool:
        """Consume ``char`` if it comes next (case-insensitive for letters)."""
        end = self.pos + len(char)
        if self.data[self.pos : end].upper() == char.upper():
            self.pos = end
            return True
        return False

    def expect(self, char: bytes, what: str | None = None) -> None:
        if not self.take(char):
            raise ParseError(f"Expected {what or repr(char.decode())}")

    def sp(self) -> None:
        if not self.take(b" "):
            raise ParseError("Missing argument" if self.at_end() else "Expected a space")

    def end(self) -> None:
        if not self.at_end():
            raise ParseError("Unexpected extra arguments")

    # ----------------------------------------------------------- tokens

    def atom(self, what: str = "atom") -> str:
        start = self.pos
        while self.pos < len(self.data) and is_atom_char(self.data[self.pos]):
            self.pos += 1
        if self.pos == start:
            raise ParseError(f"Missing {what}" if self.at_end() else f"Invalid {what}")
        return self.data[start : self.pos].decode("ascii")

    def chars_while(self, allowed: bytes) -> str:
        start = self.pos
        while self.pos < len(self.data) and self.data[self.pos] in allowed:
            self.pos += 1
        return self.data[start : self.pos].decode("ascii")

    def number(self) -> int:
        digits = self.chars_while(b"0123456789")
        if not digits:
            raise ParseError("Expected a number")
        value = int(digits)
        if value > 0xFFFFFFFF:
            raise ParseError("Number out of range")
        return value

    def nz_number(self) -> int:
        value = self.number()
        if value == 0:
            raise ParseError("Expected a non-zero number")
        return value

    def quoted(self) -> bytes:
        self.expect(b'"')
        out = bytearray()
        while True:
            byte = self.peek()
            if byte is None or byte in (0x0D, 0x0A):
                raise ParseError("Unterminated quoted string")
            self.pos += 1
            if byte == ord('"'):
                return bytes(out)
            if byte == ord("\\"):
                escaped = self.peek()
                if escaped not in (ord('"'), ord("\\")):
                    raise ParseError("Invalid escape in quoted string")
                self.pos += 1
                out.append(escaped)
            else:
                out.append(byte)

    def literal(self) -> bytes:
        match = _LITERAL_RE.match(self.data, self.pos)
        if match is None:
            raise ParseError("Invalid literal")
        size = int(match.group(1))
        start = match.end()
        if start + size > len(self.data):
            raise ParseError("Truncated literal")
        self.pos = start + size
        return self.data[start : self.pos]

    def literal8(self) -> bytes:
        """``"~{" number ["+"] "}" CRLF *OCTET`` (RFC 3516 4.1): may hold NUL octets."""
        self.expect(b"~", "'~' before a binary literal")
        return self.literal()

    def string(self) -> bytes:
        """``quoted / literal``."""
        if self.peek_is(b'"'):
            return self.quoted()
        if self.peek_is(b"{"):
            return self.literal()
        raise ParseError("Expected a string")

    def astring(self, what: str = "string") -> bytes:
        """``1*ASTRING-CHAR / string``."""
        if self.peek_is(b'"') or self.peek_is(b"{"):
            return self.string()
        start = self.pos
        while self.pos < len(self.data) and is_astring_char(self.data[self.pos]):
            self.pos += 1
        if self.pos == start:
            raise ParseError(f"Missing {what}" if self.at_end() else f"Invalid {what}")
        return self.data[start : self.pos]

    def nstring(self) -> bytes | None:
        if self.take(b"NIL"):
            return None
        return self.string()

    def list_mailbox(self) -> bytes:
        """``1*list-char / string``: like astring, also allowing ``%`` and ``*``."""
        if self.peek_is(b'"') or self.peek_is(b"{"):
            return self.string()
        start = self.pos
        while self.pos < len(self.data) and (
            is_astring_char(self.data[self.pos]) or self.data[self.pos] in LIST_WILDCARDS
        ):
            self.pos += 1
        if self.pos == start:
            raise ParseError("Missing mailbox pattern" if self.at_end() else "Invalid pattern")
        return self.data[start : self.pos]

    def mailbox(self) -> str:
        return decode_mailbox(self.astring("mailbox name"), utf8=self.utf8_names)


def decode_mailbox(raw: bytes, utf8: bool = False) -> str:
    """Wire name -> store name: modified UTF-7 (RFC 3501 5.1.3); INBOX in any case.

    Some clients send raw UTF-8 instead of modified UTF-7; accepting it is
    harmless (``&`` never occurs in it unescaped in a way we'd misread as
    UTF-8), so a user who typed a non-ASCII name by hand still gets a folder.
    With ``utf8`` (UTF8=ACCEPT enabled) the name is taken as UTF-8 throughout,
    so ``R&D`` means just that (RFC 6855 3).
    """
    if not raw:
        return ""
    if utf8:
        try:
            text = raw.decode("utf-8")
        except UnicodeDecodeError:
            raise ParseError("Mailbox name is not valid UTF-8") from None
        return _canonical_inbox(text)
    try:
        text = raw.decode("ascii")
    except UnicodeDecodeError:
        try:
            text = raw.decode("utf-8")
        except UnicodeDecodeError:
            raise ParseError("Mailbox name is not valid UTF-8") from None
    else:
        try:
            text = mutf7.decode(text)
        except ValueError:
            raise BadMailboxName("Mailbox name is not valid modified UTF-7") from None
    return _canonical_inbox(text)


def _canonical_inbox(text: str) -> str:
    if text.upper() == "INBOX" or text.upper().startswith("INBOX/"):
        return "INBOX" + text[5:]
    return text


def encode_mailbox(name: str, utf8: bool = False) -> str:
    """Store name -> wire name: modified UTF-7, or the name itself once UTF8=ACCEPT is on."""
    return name if utf8 else mutf7.encode(name)
