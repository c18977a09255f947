"""Substring matching for SEARCH BODY / TEXT / HEADER (RFC 3501 6.4.4).

Matching is on decoded text: transfer encoding undone, charset converted,
encoded words in headers decoded, all compared case-insensitively
(``casefold``). Only text parts are searched (plus the header block of an
attached message, which is readable text too); attachments are not.
"""

from __future__ import annotations

import base64
import binascii
import re
from collections.abc import Iterator

from mailserver.imap.mime.addresses import parse_address_list
from mailserver.imap.mime.headers import Field, decode_header_text, decode_text, parse_fields
from mailserver.imap.mime.tree import Node

#: Never decode more than this much text of one message for a search.
MAX_DECODED = 32 * 1024 * 1024

_BASE64_JUNK = re.compile(rb"[^A-Za-z0-9+/]")


def normalize(text: str) -> str:
    """Case-folded with runs of whitespace collapsed, so a needle matches across folds."""
    return " ".join(text.casefold().split())


def field_text(field: Field) -> str:
    return decode_header_text(field.unfolded())


#: Fields holding address lists: SEARCH FROM/TO/CC/BCC compare their parsed addresses.
ADDRESS_FIELDS = frozenset({"from", "to", "cc", "bcc", "sender", "reply-to"})


def header_matches(fields: list[Field], name: str, needle: str) -> bool:
    """Any field called ``name`` whose decoded value contains ``needle``.

    Address fields are compared as their parsed addresses, ``Name
    <local@domain>`` (comments and folding whitespace gone), as Dovecot does:
    ``FROM user@domain.org`` finds ``<user (c)@ (c) domain.org>``. An empty
    needle matches every message that has the field at all.
    """
    key = name.lower()
    wanted = normalize(needle)
    text = address_text if key in ADDRESS_FIELDS else field_text
    return any(field.key == key and wanted in normalize(text(field)) for field in fields)


def address_text(field: Field) -> str:
    """An address field as ``Name <local@domain>, ...`` (names decoded); the
    decoded text itself when nothing in it parses as an address."""
    parts = []
    for address in parse_address_list(field.unfolded()):
        if address.host is None:
            if address.mailbox:  # a group's name
                parts.append(decode_header_text(address.mailbox) + ":")
            continue
        spec = f"{address.mailbox}@{address.host}"
        name = decode_header_text(address.name) if address.name else ""
        parts.append(f"{name} <{spec}>" if name else spec)
    return ", ".join(parts) if parts else field_text(field)


def header_block_text(header: bytes) -> str:
    return "\n".join(f"{f.name}: {field_text(f)}" for f in parse_fields(header))


def decode_transfer(data: bytes, encoding: str) -> bytes:
    if encoding == "base64":
        clean = _BASE64_JUNK.sub(b"", data)
        clean = clean[: len(clean) - len(clean) % 4]
        try:
            return base64.b64decode(clean)
        except (binascii.Error, ValueError):
            return b""
    if encoding == "quoted-printable":
        return binascii.a2b_qp(data)
    return data


def body_texts(data: bytes, node: Node) -> Iterator[str]:
    """Decoded text of every text part under ``node`` (and attached messages' headers)."""
    budget = MAX_DECODED
    for kind, part in _walk(node):
        if budget <= 0:
            return
        if kind == "header":
            text = header_block_text(data[part.header_start : part.body_start])
        else:
            raw = decode_transfer(data[part.body_start : part.body_end], part.encoding)
            text = decode_text(raw[:budget], part.charset or "us-ascii")
        budget -= len(text)
        yield text


def _walk(node: Node) -> Iterator[tuple[str, Node]]:
    if node.is_multipart:
        for child in node.children:
            yield from _walk(child)
    elif node.message is not None:
        yield "header", node.message
        yield from _walk(node.message)
    elif node.mime.startswith("text/"):
        yield "body", node


def body_matches(data: bytes, root: Node, needle: str) -> bool:
    wanted = normalize(needle)
    return any(wanted in normalize(text) for text in body_texts(data, root))


def text_matches(data: bytes, root: Node, needle: str) -> bool:
    wanted = normalize(needle)
    header = header_block_text(data[root.header_start : root.body_start])
    return wanted in normalize(header) or body_matches(data, root, needle)
