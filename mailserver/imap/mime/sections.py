"""``BODY[section]`` contents (RFC 3501 6.4.5), sliced from the message bytes.

Part numbering: the parts of a multipart are numbered from 1; a part that is
not multipart has one part, itself, numbered 1; numbers after a
message/rfc822 part address the parts of the encapsulated message. HEADER,
TEXT and HEADER.FIELDS after a part number need a message/rfc822 part. A part
that does not exist yields empty bytes (Dovecot answers ``""`` too).
"""

from __future__ import annotations

from mailserver.imap.mime.headers import parse_fields
from mailserver.imap.mime.section import Section
from mailserver.imap.mime.tree import Node

CRLF = b"\r\n"


def find_part(root: Node, numbers: tuple[int, ...]) -> Node | None:
    node = root
    for depth, number in enumerate(numbers):
        if depth and node.message is not None:
            node = node.message
        if node.is_multipart:
            if not 1 <= number <= len(node.children):
                return None
            node = node.children[number - 1]
        elif number != 1:
            return None
    return node


def extract(data: bytes, root: Node, section: Section) -> bytes:
    if not section.part:
        message: Node | None = root
        if section.text is None:
            return data
    else:
        node = find_part(root, section.part)
        if node is None:
            return b""
        if section.text is None:
            return data[node.body_start : node.body_end]
        if section.text == "MIME":
            return data[node.header_start : node.body_start]
        message = node.message
    if message is None:
        return b""
    header = data[message.header_start : message.body_start]
    if section.text == "HEADER":
        return header
    if section.text == "TEXT":
        return data[message.body_start : message.body_end]
    if section.text in ("HEADER.FIELDS", "HEADER.FIELDS.NOT"):
        return header_fields(header, section.fields, section.text == "HEADER.FIELDS.NOT")
    return b""


def header_fields(header: bytes, names: tuple[str, ...], exclude: bool) -> bytes:
    """The matching fields as written (continuation lines included) plus the blank line."""
    wanted = {name.lower() for name in names}
    out = []
    for field in parse_fields(header):
        if (field.key in wanted) != exclude:
            raw = field.raw
            if not raw.endswith(b"\n"):
                raw += CRLF
            out.append(raw)
    out.append(CRLF)
    return b"".join(out)
