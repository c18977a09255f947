"""ENVELOPE and BODYSTRUCTURE / BODY as IMAP bytes (RFC 3501 7.4.2).

Types, subtypes, encodings, disposition types and parameter names are sent
upper-case, as in the RFC's examples (and Dovecot 1.x / UW imapd); parameter
values, ids, descriptions and languages exactly as written. Header values are
unfolded but never decoded: encoded words reach the client as sent, and raw
8-bit bytes go out as literals.
"""

from __future__ import annotations

from contextvars import ContextVar
from typing import Final

from mailserver.imap import wire
from mailserver.imap.mime import memo
from mailserver.imap.mime.headers import Field, decode_2231, index_fields, unquote
from mailserver.imap.mime.structure import ENCAPSULATED, Part

NIL: Final = b"NIL"
#: The fields ENVELOPE reads; BODYSTRUCTURE reads only ``Content-*`` ones.
#: Parsing for these two may drop every other field (``parse_fields(wanted=)``).
ENVELOPE_FIELDS: Final = frozenset(
    {b"date", b"subject", b"from", b"sender", b"reply-to", b"to", b"cc", b"bcc"}
    | {b"in-reply-to", b"message-id"}
)


def _nvalue(index: dict[str, Field], name: str) -> bytes:
    found = index.get(name)
    if found is None:
        return NIL
    value = found.unfolded()
    return wire.nstring(value) if value else NIL


def _address_list(index: dict[str, Field], name: str) -> bytes:
    """The rendered address list of the first ``name`` field; ``NIL`` if absent or empty."""
    found = index.get(name)
    if found is None:
        return NIL
    return memo.address_list(found.unfolded())


def envelope(fields: list[Field], index: dict[str, Field] | None = None) -> bytes:
    """``(date subject from sender reply-to to cc bcc in-reply-to message-id)``.

    Sender and Reply-To fall back to From when absent or empty (RFC 3501 7.4.2).
    ``index``: ``index_fields(fields)`` if the caller has it (a parsed part does).
    """
    if index is None:
        index = index_fields(fields)
    sender_from = _address_list(index, "from")
    sender = _address_list(index, "sender")
    reply_to = _address_list(index, "reply-to")
    items = [
        _nvalue(index, "date"),
        _nvalue(index, "subject"),
        sender_from,
        sender_from if sender == NIL else sender,
        sender_from if reply_to == NIL else reply_to,
        _address_list(index, "to"),
        _address_list(index, "cc"),
        _address_list(index, "bcc"),
        _nvalue(index, "in-reply-to"),
        _nvalue(index, "message-id"),
    ]
    return b"(" + b" ".join(items) + b")"


def _upper(text: str) -> bytes:
    return memo.upper(text)


#: Set while rendering for an IMAP4rev2 client (``bodystructure_decoded``).
_DECODED_2231: Final[ContextVar[bool]] = ContextVar("decoded_2231", default=False)


def _params(params: tuple[tuple[str, str], ...], default_charset: bool) -> bytes:
    if _DECODED_2231.get():
        params = tuple(
            (name[:-1], decode_2231(value)) if name.endswith("*") else (name, value)
            for name, value in params
        )
    return memo.params((params, default_charset))


def _disposition(part: Part) -> bytes:
    found = part.header_field("Content-Disposition")
    if found is None:
        return NIL
    parsed = memo.param_value(found.unfolded())
    kind = parsed.main.strip()
    if not kind:
        return NIL
    return b"(" + _upper(kind) + b" " + _params(parsed.params, False) + b")"


def _language(part: Part) -> bytes:
    value = part.value("Content-Language")
    if value is None:
        return NIL
    tags = [unquote(t) for t in value.replace(" ", "").replace("\t", "").split(",")]
    tags = [t for t in tags if t]
    if not tags:
        return NIL
    return b"(" + b" ".join(wire.string(t) for t in tags) + b")"


def _location(part: Part) -> bytes:
    value = part.value("Content-Location")
    if not value:
        return NIL
    # RFC 2557 allows folding a long URI: the blanks are not part of it.
    return wire.nstring("".join(value.split()))


def _nfield(part: Part, name: str) -> bytes:
    value = part.value(name)
    return wire.nstring(value) if value else NIL


def bodystructure_decoded(part: Part, extended: bool) -> bytes:
    """BODYSTRUCTURE with RFC 2231 parameters decoded, as RFC 9051 7.5.2 asks of an
    IMAP4rev2 server: ``("FILENAME" "€ rates.pdf")`` rather than Dovecot's IMAP4rev1
    form ``("FILENAME*" "utf-8''%E2%82%AC%20rates.pdf")``."""
    reset = _DECODED_2231.set(True)
    try:
        return bodystructure(part, extended)
    finally:
        _DECODED_2231.reset(reset)


def bodystructure(part: Part, extended: bool) -> bytes:
    """BODYSTRUCTURE (``extended``) or BODY: one of the pair :func:`bodystructures`
    renders in one walk (the pieces they share cost nothing twice)."""
    body, full = bodystructures(part)
    return full if extended else body


def bodystructures(part: Part) -> tuple[bytes, bytes]:
    """``(BODY, BODYSTRUCTURE)`` in one walk: the same as :func:`bodystructure` with
    ``extended`` False and True, whose pieces are all shared but the extension data."""
    if part.is_multipart:
        pairs = [bodystructures(child) for child in part.children]
        subtype = b" " + _upper(part.subtype)
        extension = b" " + b" ".join(
            (_params(part.params, False), _disposition(part), _language(part), _location(part))
        )
        body = b"(" + b"".join(pair[0] for pair in pairs) + subtype + b")"
        full = b"(" + b"".join(pair[1] for pair in pairs) + subtype + extension + b")"
        return body, full
    is_text = part.type == "text"
    if (
        part.block is not None
        and (part.type, part.subtype) not in ENCAPSULATED
        and not _DECODED_2231.get()
    ):
        # A part whose header block repeats in the mailbox: all of its
        # rendering but the size and line count comes from that block.
        head, tail = _leaf_pieces((part.block, part.type, part.subtype, part.params, part.encoding))
        size = b"%d %d" % (part.size, part.lines) if is_text else b"%d" % part.size
        return b"(" + head + size + b")", b"(" + head + size + tail + b")"
    basic = [
        _upper(part.type),
        _upper(part.subtype),
        _params(part.params, is_text),
        _nfield(part, "Content-ID"),
        _nfield(part, "Content-Description"),
        _upper(part.encoding),
        b"%d" % part.size,
    ]
    body_fields = basic
    full_fields = list(basic)
    if (part.type, part.subtype) in ENCAPSULATED and part.message is not None:
        inner = part.message
        inner_body, inner_full = bodystructures(inner)
        inner_envelope = envelope(inner.fields, inner.index)
        lines = b"%d" % part.lines
        body_fields += [inner_envelope, inner_body, lines]
        full_fields += [inner_envelope, inner_full, lines]
    elif is_text:
        body_fields.append(b"%d" % part.lines)
        full_fields.append(b"%d" % part.lines)
    full_fields += [
        _nfield(part, "Content-MD5"),
        _disposition(part),
        _language(part),
        _location(part),
    ]
    return b"(" + b" ".join(body_fields) + b")", b"(" + b" ".join(full_fields) + b")"


#: What renders a leaf part apart from its size and line count, and all of it
#: comes from the part's header block (and the type the parse settled on).
_LeafKey = tuple[bytes, str, str, tuple[tuple[str, str], ...], str]


def _leaf(key: _LeafKey) -> tuple[bytes, bytes]:
    """(everything before the size, with its trailing blank; the extension data
    after the size/lines, with its leading blank) of a leaf part's BODYSTRUCTURE,
    as :func:`bodystructures` renders them (the fields parsed from the block)."""
    block, type_, subtype, params, encoding = key
    part = Part(0, 0, 0, list(memo.part_fields((block, ENVELOPE_FIELDS))), type_, subtype)
    part.params = params
    head = [
        _upper(type_),
        _upper(subtype),
        _params(params, type_ == "text"),
        _nfield(part, "Content-ID"),
        _nfield(part, "Content-Description"),
        _upper(encoding),
    ]
    tail = [_nfield(part, "Content-MD5"), _disposition(part), _language(part), _location(part)]
    return b" ".join(head) + b" ", b" " + b" ".join(tail)


def _leaf_key_size(key: _LeafKey) -> int:
    return len(key[0])


#: A leaf part's rendering pieces by its header block (:func:`_leaf`).
_leaf_pieces: Final[memo.Memo[_LeafKey, tuple[bytes, bytes]]] = memo.Memo(
    _leaf, size=_leaf_key_size
)
