"""Header fields, MIME parameters (RFC 2045/2231) and encoded words (RFC 2047).

Header text is handled as ``str`` decoded with ``surrogateescape`` so 8-bit
bytes survive a round trip unchanged: ENVELOPE and BODYSTRUCTURE must echo
what the message holds (as literals), while SEARCH wants readable text.
Nothing here raises on malformed input; a broken value degrades to "absent".
"""

from __future__ import annotations

import base64
import binascii
import codecs
import re
from typing import Final

#: Header bytes -> str without loss; encode back with the same pair.
RAW: Final = ("utf-8", "surrogateescape")


class Field:
    """One header field. Immutable by convention (compared and hashed by value).

    A plain class rather than a frozen dataclass: compiled with mypyc
    (``mailserver/native.py``) its constructor is native C, while a
    dataclass's generated ``__init__`` stays Python; a cold FETCH builds
    several of these per message.
    """

    __slots__ = ("_unfolded", "name", "raw", "value")

    def __init__(self, name: str, raw: bytes, value: bytes) -> None:
        #: The name as written (before the colon, trailing blanks removed).
        self.name = name
        #: The whole field as it appears in the message: every line with its line end.
        self.raw = raw
        #: Everything after the colon, still folded.
        self.value = value
        #: :meth:`unfolded`, once asked (the fields of a part's header block are
        #: shared by every part with that block: ``memo.part_fields``).
        self._unfolded: str | None = None

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, Field):
            return NotImplemented
        return (self.name, self.raw, self.value) == (other.name, other.raw, other.value)

    def __hash__(self) -> int:
        return hash((self.name, self.raw, self.value))

    def __repr__(self) -> str:
        return f"Field(name={self.name!r}, raw={self.raw!r}, value={self.value!r})"

    @property
    def key(self) -> str:
        return self.name.lower()

    def unfolded(self) -> str:
        """The value on one line, blanks at both ends removed (8-bit bytes kept)."""
        unfolded = self._unfolded
        if unfolded is None:
            unfolded = unfold(self.value).decode("utf-8", "surrogateescape").strip(" \t")
            self._unfolded = unfolded
        return unfolded


def unfold(value: bytes) -> bytes:
    """Remove the line breaks of folding (RFC 5322 2.2.3); the whitespace stays."""
    return value.replace(b"\r\n", b"\n").replace(b"\n", b"").replace(b"\r", b"")


def parse_fields(block: bytes, wanted: frozenset[bytes] | None = None) -> list[Field]:
    """Split a header block (up to and maybe including its blank line) into fields.

    A line without a colon becomes a field of its own with an empty value
    (like Dovecot), so HEADER.FIELDS.NOT still returns it; a continuation
    line before any field is kept the same way.

    With ``wanted`` (lower-case names), only fields of those names and
    ``Content-*`` fields are kept (plus any non-ASCII name, which only
    :func:`first` can compare exactly): ENVELOPE and BODYSTRUCTURE need a
    dozen names, while a real message header is mostly ``Received:``,
    ``DKIM-Signature:`` and the like, not worth a :class:`Field` each.
    The fields kept are the same objects, in the same order, as without it.
    """
    limit = blank_line(block, 0, len(block))
    if limit < 0:
        limit = len(block)
    # A field starts at the first line (even a continuation line) and at
    # every line that does not start with a blank: one regex findall at C
    # speed instead of a Python loop per line (a real header has dozens).
    # Every line before ``limit`` has a character other than LF (a line of
    # CRs only is the blank line), so the fields cover the block.
    raws: list[bytes] = _FIELD.findall(block, 0, limit)
    names = _names_for(wanted)
    fields: list[Field] = []
    for raw in raws:
        # As _field, with the name found once for the filter and the Field.
        colon = raw.find(b":")
        if colon < 0 or raw.find(b"\n", 0, colon) >= 0:
            name = raw.rstrip(b"\r\n")
            value = b""
        else:
            name = raw[:colon].rstrip(b" \t")
            value = raw[colon + 1 :]
        if name in names:
            text = names[name]
        else:
            text = _kept_name(name, wanted)
            if len(name) <= _MAX_NAME:
                if len(names) >= _MAX_NAMES:
                    names.clear()
                names[name] = text
        if text is not None:
            fields.append(Field(text, raw, value))
    return fields


#: Header names repeat endlessly (``From``, ``Content-Type``): a raw name's
#: decoded text, or None when the ``wanted`` filter drops it, is remembered
#: per filter (at most :data:`_MAX_NAMES` names of at most :data:`_MAX_NAME`
#: bytes each; a full table starts over). Pure: a hit answers what a
#: fresh computation would.
_NAMES: Final[dict[frozenset[bytes] | None, dict[bytes, str | None]]] = {}
_MAX_NAMES: Final = 1024
_MAX_NAME: Final = 64


def _names_for(wanted: frozenset[bytes] | None) -> dict[bytes, str | None]:
    names = _NAMES.get(wanted)
    if names is None:
        if len(_NAMES) >= 8:  # callers pass one or two filters; never grow
            _NAMES.clear()
        names = _NAMES[wanted] = {}
    return names


def _kept_name(name: bytes, wanted: frozenset[bytes] | None) -> str | None:
    """The field name's text, or None if ``wanted`` drops the field."""
    if wanted is not None and name.isascii():
        key = name.lower()
        if key not in wanted and not key.startswith(b"content-"):
            return None
    return name.decode("utf-8", "surrogateescape")


#: A line empty but for CRs (where a header block ends), at ``pos`` / after a LF.
_BLANK_AT: Final = re.compile(rb"\r*(?:\n|\Z)")
_BLANK_AFTER_LF: Final = re.compile(rb"\n\r*(?:\n|\Z)")


def blank_line(data: bytes, pos: int, end: int) -> int:
    """Start of the first line in ``data[pos:end]`` that is empty but for CRs; -1: none.

    ``pos`` must be a line start. The search starts with a literal LF, which
    the regex engine scans for at C speed (a header has dozens of lines).
    """
    if _BLANK_AT.match(data, pos, end) is not None:
        return pos
    found = _BLANK_AFTER_LF.search(data, pos, end)
    return -1 if found is None else found.start() + 1


#: One field: a line and the continuation lines after it (``.`` is anything but LF).
_FIELD: Final = re.compile(rb".+\n?(?:[ \t].*\n?)*")


def _field(raw: bytes) -> Field:
    colon = raw.find(b":")
    first_break = raw.find(b"\n")
    if colon < 0 or (0 <= first_break < colon):
        return Field(raw.rstrip(b"\r\n").decode("utf-8", "surrogateescape"), raw, b"")
    name = raw[:colon].rstrip(b" \t").decode("utf-8", "surrogateescape")
    return Field(name, raw, raw[colon + 1 :])


def first(fields: list[Field], name: str) -> Field | None:
    key = name.lower()
    if not key.isascii():  # lower() may change a length: compare the plain way
        return next((field for field in fields if field.key == key), None)
    size = len(key)
    for field in fields:
        # Length first: ENVELOPE and BODYSTRUCTURE look up ~30 names per
        # message, and lower-casing every field name each time showed up in
        # the profile of a cold FETCH.
        found = field.name
        if len(found) == size and found.lower() == key:
            return field
    return None


def index_fields(fields: list[Field]) -> dict[str, Field]:
    """Lower-case name -> first field of that name: :func:`first` for many lookups."""
    index: dict[str, Field] = {}
    for field in fields:
        index.setdefault(field.name.lower(), field)
    return index


# ------------------------------------------------------------ MIME params

_TSPECIALS: Final = set('()<>@,;:\\"/[]?=')


def is_token(text: str) -> bool:
    return bool(text) and all(33 <= ord(c) < 127 and c not in _TSPECIALS for c in text)


def strip_comments(text: str) -> str:
    """Drop RFC 822 comments outside quoted strings (nesting and escapes honoured)."""
    out: list[str] = []
    depth = 0
    quoted = False
    i = 0
    while i < len(text):
        c = text[i]
        if quoted:
            out.append(c)
            if c == "\\" and i + 1 < len(text):
                out.append(text[i + 1])
                i += 1
            elif c == '"':
                quoted = False
        elif depth:
            if c == "\\":
                i += 1
            elif c == "(":
                depth += 1
            elif c == ")":
                depth -= 1
        elif c == "(":
            depth = 1
        else:
            if c == '"':
                quoted = True
            out.append(c)
        i += 1
    return "".join(out)


def _split_params(text: str) -> list[str]:
    """Split on ``;`` outside quoted strings."""
    pieces: list[str] = []
    current: list[str] = []
    quoted = False
    i = 0
    while i < len(text):
        c = text[i]
        if quoted and c == "\\" and i + 1 < len(text):
            current.append(c + text[i + 1])
            i += 2
            continue
        if c == '"':
            quoted = not quoted
        if c == ";" and not quoted:
            pieces.append("".join(current))
            current = []
        else:
            current.append(c)
        i += 1
    pieces.append("".join(current))
    return pieces


def unquote(text: str) -> str:
    text = text.strip(" \t")
    if len(text) >= 2 and text[0] == '"':
        body = text[1:-1] if text.endswith('"') else text[1:]
        return re.sub(r"\\(.)", r"\1", body, flags=re.S)
    return text


class ParamValue:
    """A ``Content-Type``-like value: ``main`` (e.g. ``text/plain``) and its parameters.

    Immutable by convention (memo hits share one), compared by value; a plain
    class so that mypyc compiles its constructor.
    """

    __slots__ = ("main", "params")

    def __init__(self, main: str, params: tuple[tuple[str, str], ...]) -> None:
        self.main = main
        self.params = params

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, ParamValue):
            return NotImplemented
        return (self.main, self.params) == (other.main, other.params)

    def __hash__(self) -> int:
        return hash((self.main, self.params))

    def __repr__(self) -> str:
        return f"ParamValue(main={self.main!r}, params={self.params!r})"

    def get(self, name: str) -> str | None:
        key = name.lower()
        for k, v in self.params:
            if k.lower() == key:
                return v
        return None


def parse_param_value(value: str) -> ParamValue:
    """``value *(";" attribute "=" value)`` with RFC 2231 continuations merged.

    Merged RFC 2231 parameters are reported the way Dovecot reports them in
    BODYSTRUCTURE: ``name*`` with the still-encoded ``charset'lang'text``
    (plain segments percent-encoded) when any segment was extended,
    otherwise ``name`` with the joined plain text.
    """
    unfolded = unfold(value.encode("utf-8", "surrogateescape"))
    pieces = _split_params(strip_comments(unfolded.decode("utf-8", "surrogateescape")))
    main = pieces[0].strip(" \t")
    plain: list[tuple[str, str]] = []
    sections: dict[str, dict[int, tuple[bool, str]]] = {}
    order: list[str] = []
    for piece in pieces[1:]:
        name, eq, raw_value = piece.partition("=")
        name = name.strip(" \t")
        if not eq or not name:
            continue
        text = unquote(raw_value)
        match = re.fullmatch(r"([^*]+)\*(?:(\d{1,3})\*?|)", name)
        if match is not None and "*" in name:
            base = match.group(1)
            number = int(match.group(2)) if match.group(2) is not None else 0
            extended = name.endswith("*")
            key = base.lower()
            if key not in sections:
                sections[key] = {}
                order.append(base)
                plain.append((base, ""))  # placeholder keeps the parameter's position
            sections[key].setdefault(number, (extended, text))
            continue
        plain.append((name, text))
    merged: dict[str, tuple[str, str]] = {}
    for base in order:
        parts = sections[base.lower()]
        numbers = sorted(parts)
        any_extended = any(parts[n][0] for n in numbers)
        if not any_extended:
            merged[base.lower()] = (base, "".join(parts[n][1] for n in numbers))
            continue
        chunks: list[str] = []
        for index, n in enumerate(numbers):
            extended, text = parts[n]
            if index == 0 and not extended:
                chunks.append("''")
            chunks.append(text if extended else _pct_encode(text))
        merged[base.lower()] = (base + "*", "".join(chunks))
    params: list[tuple[str, str]] = []
    seen: set[str] = set()
    for name, text in plain:
        key = name.lower()
        entry = merged.pop(key, None) if key in merged else None
        if entry is not None:
            name, text = entry
            key = name.lower()
        if key in seen:
            continue
        seen.add(key)
        params.append((name, text))
    return ParamValue(main, tuple(params))


def _pct_encode(text: str) -> str:
    data = text.encode("utf-8", "surrogateescape")
    return "".join(
        chr(b) if (48 <= b <= 57 or 65 <= b <= 90 or 97 <= b <= 122 or b in b"-._") else f"%{b:02X}"
        for b in data
    )


def decode_2231(value: str) -> str:
    """``charset'lang'pct-text`` -> text (for search and display only)."""
    charset, _, rest = value.partition("'")
    _, _, encoded = rest.partition("'")
    raw = bytearray()
    i = 0
    data = encoded.encode("utf-8", "surrogateescape")
    while i < len(data):
        if data[i] == 0x25 and i + 2 < len(data) and _is_hex(data[i + 1 : i + 3]):
            raw.append(int(data[i + 1 : i + 3], 16))
            i += 3
        else:
            raw.append(data[i])
            i += 1
    return decode_text(bytes(raw), charset or "utf-8")


def _is_hex(pair: bytes) -> bool:
    return len(pair) == 2 and all(c in b"0123456789abcdefABCDEF" for c in pair)


# ------------------------------------------------------------- charsets

_ALIASES: Final = {
    # Supersets: mail labelled with the narrower name often holds the wider set.
    "gb2312": "gb18030",
    "gbk": "gb18030",
    "x-gbk": "gb18030",
    "cp936": "gb18030",
    "us-ascii": "utf-8",
    "ascii": "utf-8",
    "iso-8859-1": "cp1252",
    "latin1": "cp1252",
    "ks_c_5601-1987": "cp949",
    "unicode-1-1-utf-7": "utf-7",
}


def _codec(charset: str | None) -> str | None:
    """The Python text codec for a MIME charset name; None when there is none.

    The name comes from the message, so anything goes: NULs and surrogates
    (``codecs.lookup`` raises ValueError), and names of Python's bytes-to-bytes
    codecs (``base64``, ``zlib``, ``rot13``) that ``bytes.decode`` refuses.
    """
    if not charset:
        return None
    name = charset.strip().strip('"').lower()
    name = _ALIASES.get(name, name)
    try:
        info = codecs.lookup(name)
    except (LookupError, ValueError):
        return None
    if not getattr(info, "_is_text_encoding", True):
        return None
    return info.name


def decode_text(data: bytes, charset: str | None) -> str:
    """Bytes in a declared charset -> text; unknown charsets guess like 8-bit headers.

    Some text codecs still raise with ``errors="replace"`` (``undefined``,
    ``idna``, ``punycode``): those fall back to the guess as well, because a
    message must never make SEARCH fail.
    """
    codec = _codec(charset)
    if codec is not None:
        try:
            return data.decode(codec, "replace")
        except (UnicodeError, ValueError, LookupError):
            pass
    return decode_unlabelled(data)


def decode_unlabelled(data: bytes) -> str:
    """8-bit bytes with no charset: UTF-8, else GB18030 (the lab's mail), else Latin-1."""
    for codec in ("utf-8", "gb18030"):
        try:
            return data.decode(codec)
        except UnicodeDecodeError:
            continue
    return data.decode("latin-1")


# --------------------------------------------------------- encoded words

_ENCODED_WORD: Final = re.compile(r"=\?([^?\s]+)\?([bBqQ])\?([^?\s]*)\?=")
_BLANK: Final = re.compile(r"[ \t]+")


def _word_bytes(encoding: str, text: str) -> bytes | None:
    try:
        if encoding in "bB":
            data = text.encode("ascii")
            data += b"=" * (-len(data) % 4)
            return base64.b64decode(data)
        data = text.replace("_", " ").encode("ascii")
        return binascii.a2b_qp(data)
    except (ValueError, binascii.Error, UnicodeEncodeError):
        return None


def decode_header_text(value: str) -> str:
    """RFC 2047 encoded words decoded; blanks between adjacent words dropped.

    Adjacent words in the same charset are joined as bytes before decoding,
    because mailers split multibyte characters across words. Raw 8-bit bytes
    (surrogate-escaped) are decoded with :func:`decode_unlabelled`.
    """
    out: list[str] = []
    pending: bytearray | None = None
    pending_charset = ""
    pos = 0

    def flush() -> None:
        nonlocal pending
        if pending is not None:
            out.append(decode_text(bytes(pending), pending_charset))
            pending = None

    for match in _ENCODED_WORD.finditer(value):
        gap = value[pos : match.start()]
        charset = match.group(1).split("*", 1)[0]
        data = _word_bytes(match.group(2), match.group(3))
        if data is None:
            continue  # left in place: becomes part of the next gap
        if gap and not (_BLANK.fullmatch(gap) and pending is not None):
            flush()
            out.append(_plain(gap))
        if pending is not None and charset.lower() != pending_charset.lower():
            flush()
        if pending is None:
            pending = bytearray()
            pending_charset = charset
        pending += data
        pos = match.end()
    flush()
    out.append(_plain(value[pos:]))
    return "".join(out)


def _plain(text: str) -> str:
    if text.isascii():
        return text
    return decode_unlabelled(text.encode("utf-8", "surrogateescape"))
