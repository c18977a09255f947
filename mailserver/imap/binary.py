"""FETCH BINARY (RFC 3516 4.2): a part with its Content-Transfer-Encoding undone.

``BINARY[]`` is the whole message as stored (no encoding applies to it);
``BINARY[1.2]`` is that part's body decoded from base64 or quoted-printable
(7bit, 8bit and binary bodies are sent as they are). An encoding we do not
know cannot be undone: ``NO [UNKNOWN-CTE]``, as the RFC demands. The data
goes out as a ``literal8`` (``~{n}``) when it holds NUL octets, as an ordinary
literal otherwise, so clients without literal8 parsing still read text parts.
Broken base64 (missing padding, stray characters) is decoded as far as it
goes, as Dovecot does, rather than failing the whole FETCH.
"""

from __future__ import annotations

import base64
import binascii
import re

from mailserver.imap import wire
from mailserver.imap.errors import no
from mailserver.imap.mime import MessageCache
from mailserver.imap.mime.section import Section
from mailserver.imap.mime.sections import find_part
from mailserver.imap.parser.binary import BinarySection
from mailserver.storage import Folder, MessageInfo

#: Encodings whose octets are the content itself.
IDENTITY = frozenset({"", "7bit", "8bit", "binary"})
_NOT_BASE64 = re.compile(rb"[^A-Za-z0-9+/]")


def decode(data: bytes, encoding: str) -> bytes:
    """``data`` with ``encoding`` (lower case) undone; ``NO [UNKNOWN-CTE]`` if unknown."""
    if encoding in IDENTITY:
        return data
    if encoding == "base64":
        clean = _NOT_BASE64.sub(b"", data)
        clean = clean[: len(clean) - len(clean) % 4] if len(clean) % 4 == 1 else clean
        try:
            return base64.b64decode(clean + b"=" * (-len(clean) % 4))
        except binascii.Error:
            return b""
    if encoding == "quoted-printable":
        return binascii.a2b_qp(data)
    raise no(f"Unknown Content-Transfer-Encoding {encoding[:40]}", "UNKNOWN-CTE")


async def decoded_section(
    folder: Folder, cache: MessageCache, info: MessageInfo, part: tuple[int, ...]
) -> bytes | None:
    """The decoded content of ``part`` (``()``: the whole message); None if no such part."""
    if not part:
        return await cache.section(folder, info, Section())
    parsed = await cache.structure(folder, info)
    node = find_part(parsed.tree, part)
    if node is None:
        return None
    body = await cache.section(folder, info, Section(part=part))
    # A multipart or message part has no encoding of its own worth undoing.
    if node.is_multipart or node.message is not None:
        return body
    return decode(body, node.encoding)


async def render(
    item: BinarySection, folder: Folder, cache: MessageCache, info: MessageInfo
) -> bytes:
    """``BINARY[1]<0> ~{n}...``, ``BINARY.SIZE[1] n`` or ``BINARY[9] NIL`` for no such part."""
    label = b"[" + b".".join(b"%d" % n for n in item.part) + b"]"
    data = await decoded_section(folder, cache, info, item.part)
    if item.size:
        return b"BINARY.SIZE%s %d" % (label, len(data or b""))
    if item.partial is not None:
        start, count = item.partial
        label += b"<%d>" % start
        if data is not None:
            data = data[start : start + count]
    if data is None:
        return b"BINARY" + label + b" NIL"
    if b"\x00" in data:
        return b"BINARY" + label + b" ~{%d}\r\n" % len(data) + data
    return b"BINARY" + label + b" " + wire.literal(data)
