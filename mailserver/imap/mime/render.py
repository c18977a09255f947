"""ENVELOPE and BODYSTRUCTURE / BODY as IMAP bytes (RFC 3501 7.4.2).

Types, subtypes, encodings, disposition types and parameter names are sent
upper-case, as in the RFC's examples (and Dovecot 1.x / UW imapd); parameter
values, ids, descriptions and languages exactly as written. Header values are
unfolded but never decoded: encoded words reach the client as sent, and raw
8-bit bytes go out as literals.
"""

from __future__ import annotations

from contextvars import ContextVar

from mailserver.imap import wire
from mailserver.imap.mime.addresses import Address, parse_address_list
from mailserver.imap.mime.headers import Field, decode_2231, first, parse_param_value, unquote
from mailserver.imap.mime.structure import ENCAPSULATED, Part

NIL = b"NIL"


def _nvalue(fields: list[Field], name: str) -> bytes:
    found = first(fields, name)
    if found is None:
        return NIL
    value = found.unfolded()
    return wire.nstring(value) if value else NIL


def _addresses(fields: list[Field], name: str) -> list[Address]:
    found = first(fields, name)
    if found is None:
        return []
    return parse_address_list(found.unfolded())


def _address_list(addresses: list[Address]) -> bytes:
    if not addresses:
        return NIL
    return b"(" + b"".join(_address(a) for a in addresses) + b")"


def _address(a: Address) -> bytes:
    return b"(%s %s %s %s)" % (
        wire.nstring(a.name),
        wire.nstring(a.adl),
        wire.nstring(a.mailbox),
        wire.nstring(a.host),
    )


def envelope(fields: list[Field]) -> bytes:
    """``(date subject from sender reply-to to cc bcc in-reply-to message-id)``.

    Sender and Reply-To fall back to From when absent or empty (RFC 3501 7.4.2).
    """
    sender_from = _addresses(fields, "From")
    sender = _addresses(fields, "Sender") or sender_from
    reply_to = _addresses(fields, "Reply-To") or sender_from
    items = [
        _nvalue(fields, "Date"),
        _nvalue(fields, "Subject"),
        _address_list(sender_from),
        _address_list(sender),
        _address_list(reply_to),
        _address_list(_addresses(fields, "To")),
        _address_list(_addresses(fields, "Cc")),
        _address_list(_addresses(fields, "Bcc")),
        _nvalue(fields, "In-Reply-To"),
        _nvalue(fields, "Message-ID"),
    ]
    return b"(" + b" ".join(items) + b")"


def _upper(text: str) -> bytes:
    return wire.string(text.upper())


#: Set while rendering for an IMAP4rev2 client (``bodystructure_decoded``).
_DECODED_2231: ContextVar[bool] = ContextVar("decoded_2231", default=False)


def _params(params: tuple[tuple[str, str], ...], default_charset: bool) -> bytes:
    if _DECODED_2231.get():
        params = tuple(
            (name[:-1], decode_2231(value)) if name.endswith("*") else (name, value)
            for name, value in params
        )
    items = [wire.string(name.upper()) + b" " + wire.string(value) for name, value in params]
    if default_charset and not any(name.lower() == "charset" for name, _ in params):
        items.append(b'"CHARSET" "US-ASCII"')
    if not items:
        return NIL
    return b"(" + b" ".join(items) + b")"


def _disposition(part: Part) -> bytes:
    found = part.header_field("Content-Disposition")
    if found is None:
        return NIL
    parsed = parse_param_value(found.unfolded())
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
    if part.is_multipart:
        out = b"".join(bodystructure(child, extended) for child in part.children)
        out += b" " + _upper(part.subtype)
        if extended:
            out += b" " + b" ".join(
                (_params(part.params, False), _disposition(part), _language(part), _location(part))
            )
        return b"(" + out + b")"
    is_text = part.type == "text"
    fields = [
        _upper(part.type),
        _upper(part.subtype),
        _params(part.params, is_text),
        _nfield(part, "Content-ID"),
        _nfield(part, "Content-Description"),
        _upper(part.encoding),
        b"%d" % part.size,
    ]
    if (part.type, part.subtype) in ENCAPSULATED and part.message is not None:
        inner = part.message
        fields += [envelope(inner.fields), bodystructure(inner, extended), b"%d" % part.lines]
    elif is_text:
        fields.append(b"%d" % part.lines)
    if extended:
        fields += [
            _nfield(part, "Content-MD5"),
            _disposition(part),
            _language(part),
            _location(part),
        ]
    return b"(" + b" ".join(fields) + b")"
