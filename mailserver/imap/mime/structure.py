"""One pass over a message's bytes -> a tree of MIME parts with exact byte ranges.

Not ``email.parser``: FETCH needs the octet offsets, sizes and line counts of
every part exactly as stored, and the email package re-serializes instead.
Boundaries follow RFC 2046 5.1.1 as Dovecot applies it: a delimiter is a line
starting with ``--boundary`` (of this or any enclosing multipart, the longest
match winning), the line break before it belongs to the delimiter, anything
after it on the line is transport padding, and a missing close delimiter is
tolerated. Nothing here raises on malformed input: a multipart without a
boundary is text/plain, an unparsable Content-Type means the default type,
and nesting or part counts beyond a bound make the rest opaque.
"""

from __future__ import annotations

from typing import Final

from mailserver.imap.mime import memo
from mailserver.imap.mime.headers import (
    Field,
    ParamValue,
    blank_line,
    index_fields,
    is_token,
    parse_fields,
    strip_comments,
)

#: Deeper nesting than this is shown as an opaque application/octet-stream part.
MAX_DEPTH: Final = 50
#: More parts than this in one message: the rest become opaque too.
MAX_PARTS: Final = 2000

TEXT_PLAIN: Final = ("text", "plain")
MESSAGE_RFC822: Final = ("message", "rfc822")
#: Types whose body is a whole message, parsed and shown with ENVELOPE, BODYSTRUCTURE
#: and lines: message/global (RFC 6532 3.7) is message/rfc822 with UTF-8 headers, and
#: IMAP4rev2 describes it the same way (RFC 9051 7.5.2), as Dovecot does.
ENCAPSULATED: Final = frozenset({MESSAGE_RFC822, ("message", "global")})
_ENCODINGS: Final = {"7bit", "8bit", "binary", "base64", "quoted-printable"}


class Part:
    """One MIME entity. Offsets index the message bytes; ``header`` spans
    ``[header_start, body_start)`` (blank line included) and the body
    ``[body_start, body_end)``.

    A plain class rather than a dataclass so that, compiled with mypyc
    (``mailserver/native.py``), building one is native code.
    """

    __slots__ = (
        "block",
        "body_end",
        "body_start",
        "children",
        "fields",
        "header_start",
        "index",
        "lines",
        "message",
        "params",
        "subtype",
        "type",
    )

    def __init__(
        self,
        header_start: int,
        body_start: int,
        body_end: int,
        fields: list[Field],
        type: str = "text",
        subtype: str = "plain",
    ) -> None:
        self.header_start = header_start
        self.body_start = body_start
        self.body_end = body_end
        self.fields = fields
        self.type = type
        self.subtype = subtype
        self.params: tuple[tuple[str, str], ...] = ()
        self.lines = 0
        self.children: list[Part] = []
        #: The encapsulated message of a message/rfc822 part (its root part).
        self.message: Part | None = None
        #: ``fields`` by lower-case name, built on the first lookup (``fields`` never changes).
        self.index: dict[str, Field] | None = None
        #: The header block ``fields`` were split from, when it was memoised
        #: (a part's, not the message's): what its rendering may be memoised by.
        self.block: bytes | None = None

    def __repr__(self) -> str:
        return (
            f"Part({self.type}/{self.subtype}, header_start={self.header_start},"
            f" body_start={self.body_start}, body_end={self.body_end},"
            f" children={self.children!r}, message={self.message!r})"
        )

    @property
    def size(self) -> int:
        return self.body_end - self.body_start

    @property
    def is_multipart(self) -> bool:
        return self.type == "multipart"

    def header_field(self, name: str) -> Field | None:
        index = self.index
        if index is None:
            index = self.index = index_fields(self.fields)
        return index.get(name.lower())

    def value(self, name: str) -> str | None:
        found = self.header_field(name)
        return None if found is None else found.unfolded()

    def param(self, name: str) -> str | None:
        key = name.lower()
        for k, v in self.params:
            if k.lower() == key:
                return v
        return None

    @property
    def encoding(self) -> str:
        """Content-Transfer-Encoding, lower case; invalid or missing -> ``7bit`` (like Dovecot)."""
        raw = self.value("Content-Transfer-Encoding")
        if raw is None:
            return "7bit"
        return _encodings(raw)


class _Stop:
    """A delimiter line that ended a part."""

    __slots__ = ("close", "index", "line_end", "line_start")

    def __init__(self, line_start: int, line_end: int, index: int, close: bool) -> None:
        self.line_start = line_start
        self.line_end = line_end
        #: Index into the active boundary list.
        self.index = index
        self.close = close


class _Parser:
    def __init__(self, data: bytes, wanted: frozenset[bytes] | None = None) -> None:
        self.data = data
        self.wanted = wanted
        self.parts = 0
        #: boundary -> (searched from, next LF--boundary offset or -1)
        self._hits: dict[bytes, tuple[int, int]] = {}

    def find_boundary(self, pos: int, end: int, boundaries: list[bytes]) -> _Stop | None:
        """First delimiter line of any active boundary at or after line start ``pos``.

        Each boundary's next occurrence is searched with one ``bytes.find``
        and remembered: the parse only moves forward, so the whole message is
        scanned about once per boundary however many parts it has.
        """
        if not boundaries:
            return None
        data = self.data
        if pos < end and data.startswith(b"--", pos):
            stop = self._match(pos, end, boundaries)
            if stop is not None:
                return stop
        best = -1
        for boundary in boundaries:
            hit = self._next_hit(boundary, pos, end)
            if hit >= 0 and (best < 0 or hit < best):
                best = hit
        if best < 0:
            return None
        return self._match(best + 1, end, boundaries)

    def _next_hit(self, boundary: bytes, pos: int, end: int) -> int:
        """Offset of the next ``LF--boundary`` at or after ``pos`` (-1: none)."""
        searched_from, hit = self._hits.get(boundary, (-1, -1))
        if 0 <= searched_from <= pos and (hit < 0 or hit >= pos):
            return hit
        hit = self.data.find(b"\n--" + boundary, pos, end)
        self._hits[boundary] = (pos, hit)
        return hit

    def _match(self, line_start: int, end: int, boundaries: list[bytes]) -> _Stop | None:
        data = self.data
        nl = data.find(b"\n", line_start, end)
        line_end = end if nl < 0 else nl + 1
        text = data[line_start + 2 : line_end].rstrip(b"\r\n")
        best: _Stop | None = None
        best_len = -1
        for index in range(len(boundaries) - 1, -1, -1):
            boundary = boundaries[index]
            if not text.startswith(boundary):
                continue
            rest = text[len(boundary) :]
            close = rest.startswith(b"--")
            exact = close or not rest.strip(b" \t")
            if exact:
                return _Stop(line_start, line_end, index, close)
            if len(boundary) > best_len:
                best = _Stop(line_start, line_end, index, close)
                best_len = len(boundary)
        return best

    def body_end(self, body_start: int, stop: _Stop | None, end: int) -> int:
        """Where a body ends: before the line break that belongs to the delimiter."""
        if stop is None:
            return end
        pos = stop.line_start
        if pos > body_start and self.data[pos - 1] == 0x0A:
            pos -= 1
            if pos > body_start and self.data[pos - 1] == 0x0D:
                pos -= 1
        return max(pos, body_start)

    def parse(
        self,
        start: int,
        end: int,
        boundaries: list[bytes],
        default: tuple[str, str],
        depth: int,
    ) -> tuple[Part, _Stop | None]:
        self.parts += 1
        data = self.data
        header_end, body_start, stop = self._header(start, end, boundaries)
        block: bytes | None = None
        if start:  # a part's header: these repeat (memo.part_fields)
            block = data[start:header_end]
            fields = list(memo.part_fields((block, self.wanted)))
        else:
            fields = parse_fields(data[:header_end], self.wanted)
        part = Part(start, body_start, body_start, fields)
        part.block = block
        _content_type(part, default)
        opaque = depth >= MAX_DEPTH or self.parts >= MAX_PARTS
        if stop is not None:
            # The header ran into a delimiter: no body at all.
            part.body_start = part.body_end = header_end
            if part.is_multipart:
                part.children.append(_empty_part(header_end))
            elif (part.type, part.subtype) in ENCAPSULATED:
                part.message = _empty_part(header_end)
            return part, stop
        if part.is_multipart and not opaque:
            return part, self._multipart(part, end, boundaries, depth)
        if (part.type, part.subtype) in ENCAPSULATED and not opaque:
            inner, stop = self.parse(body_start, end, boundaries, TEXT_PLAIN, depth + 1)
            part.message = inner
            part.body_end = inner.body_end
            part.lines = data.count(b"\n", body_start, part.body_end)
            return part, stop
        if opaque and (part.is_multipart or (part.type, part.subtype) in ENCAPSULATED):
            part.type, part.subtype, part.params = "application", "octet-stream", ()
        stop = self.find_boundary(body_start, end, boundaries)
        part.body_end = self.body_end(body_start, stop, end)
        part.lines = data.count(b"\n", body_start, part.body_end)
        return part, stop

    def _header(
        self, start: int, end: int, boundaries: list[bytes]
    ) -> tuple[int, int, _Stop | None]:
        """(end of header block, body start, delimiter that cut the header short)."""
        data = self.data
        if not boundaries and (start == 0 or data[start - 1] == 0x0A):
            # No delimiter can cut it short: one regex search for the blank line.
            blank = blank_line(data, start, end)
            if blank < 0:
                return end, end, None
            nl = data.find(b"\n", blank, end)
            line_end = end if nl < 0 else nl + 1
            return line_end, line_end, None
        pos = start
        while pos < end:
            nl = data.find(b"\n", pos, end)
            line_end = end if nl < 0 else nl + 1
            if data[pos:line_end].rstrip(b"\r\n") == b"":
                return line_end, line_end, None
            if boundaries and data.startswith(b"--", pos):
                stop = self._match(pos, end, boundaries)
                if stop is not None:
                    return self.body_end(start, stop, end), pos, stop
            pos = line_end
        return end, end, None

    def _multipart(self, part: Part, end: int, outer: list[bytes], depth: int) -> _Stop | None:
        boundary = (part.param("boundary") or "").encode("utf-8", "surrogateescape")
        active = [*outer, boundary]
        own = len(active) - 1
        child_default = MESSAGE_RFC822 if part.subtype == "digest" else TEXT_PLAIN
        stop = self.find_boundary(part.body_start, end, active)
        while stop is not None and stop.index == own and not stop.close:
            if self.parts >= MAX_PARTS:
                # Budget spent: the rest of this multipart is one opaque last part.
                child, stop = self._opaque(stop.line_end, end, outer)
            else:
                child, stop = self.parse(stop.line_end, end, active, child_default, depth + 1)
            part.children.append(child)
        if stop is not None and stop.index == own:
            stop = self.find_boundary(stop.line_end, end, outer)  # epilogue
        if not part.children:
            # Grammar needs at least one body part; Dovecot shows an empty text/plain.
            part.children.append(_empty_part(part.body_start))
        part.body_end = self.body_end(part.body_start, stop, end)
        part.lines = self.data.count(b"\n", part.body_start, part.body_end)
        return stop

    def _opaque(self, start: int, end: int, outer: list[bytes]) -> tuple[Part, _Stop | None]:
        stop = self.find_boundary(start, end, outer)
        body_end = self.body_end(start, stop, end)
        part = Part(start, start, body_end, [], "application", "octet-stream")
        return part, stop


def _empty_part(at: int) -> Part:
    return Part(at, at, at, [])


def _content_type(part: Part, default: tuple[str, str]) -> None:
    """Fill type/subtype/params from Content-Type, degrading to ``default``."""
    found = part.header_field("Content-Type")
    if found is None:
        part.type, part.subtype = default
        return
    part.type, part.subtype, part.params = _types((found.unfolded(), default))


def _decide_type(key: tuple[str, tuple[str, str]]) -> tuple[str, str, tuple[tuple[str, str], ...]]:
    """(type, subtype, params) of a Content-Type value where ``default`` is the default type."""
    value, default = key
    parsed: ParamValue = memo.param_value(value)
    main, slash, sub = parsed.main.partition("/")
    main, sub = main.strip().lower(), sub.strip().lower()
    if not slash or not is_token(main) or not is_token(sub):
        if default != TEXT_PLAIN:
            return default[0], default[1], ()
        return TEXT_PLAIN[0], TEXT_PLAIN[1], ()
    if main == "multipart" and not parsed.get("boundary"):
        return TEXT_PLAIN[0], TEXT_PLAIN[1], ()
    return main, sub, parsed.params


def _decide_encoding(raw: str) -> str:
    value = strip_comments(raw).strip(" \t").lower()
    return value if is_token(value) else "7bit"


#: Content-Type value and default -> type, subtype, params (pure: memoised).
_types: Final = memo.Memo(_decide_type, size=lambda key: len(key[0]))
#: Content-Transfer-Encoding value -> encoding (pure: memoised).
_encodings: Final[memo.Memo[str, str]] = memo.Memo(_decide_encoding)


def parse_message(data: bytes, wanted: frozenset[bytes] | None = None) -> Part:
    """The root part of a whole message (its header is the message header).

    ``wanted``: keep only those header fields in the parts (see
    :func:`~mailserver.imap.mime.headers.parse_fields`); all by default.
    """
    parser = _Parser(data, wanted)
    root, _ = parser.parse(0, len(data), [], TEXT_PLAIN, 0)
    return root
