"""PREVIEW (RFC 8970): a short plain-text foretaste of a message for list views.

Taken, as Dovecot does, from the first ``text/plain`` part (else the first
``text/html``, tags and entities removed): transfer encoding and charset
undone, quoted lines (``> ...``) left out, whitespace collapsed, at most
:data:`MAX_CHARS` characters (RFC 8970 allows 256).
"""

from __future__ import annotations

import html
import re
from collections.abc import Iterator

from mailserver.imap.mime.headers import decode_text
from mailserver.imap.mime.textsearch import decode_transfer
from mailserver.imap.mime.tree import Node

MAX_CHARS = 200
#: Never decode more of a part than a preview could need (a few times over, for HTML).
_MAX_SOURCE = 64 * 1024
_TAG = re.compile(r"<[^>]*>")
_DROP_BLOCKS = re.compile(r"<(script|style|head)\b.*?</\1\s*>", re.IGNORECASE | re.DOTALL)


def preview(data: bytes, root: Node) -> str:
    """The preview text of the message ``data`` whose part tree is ``root`` ("" if no text)."""
    parts = list(_text_parts(root))
    chosen = next((p for p in parts if p.mime == "text/plain"), None)
    if chosen is None:
        chosen = next((p for p in parts if p.mime == "text/html"), None)
    if chosen is None:
        return ""
    raw = decode_transfer(data[chosen.body_start : chosen.body_end][:_MAX_SOURCE], chosen.encoding)
    text = decode_text(raw, chosen.charset or "us-ascii")
    if chosen.mime == "text/html":
        text = html.unescape(_TAG.sub(" ", _DROP_BLOCKS.sub(" ", text)))
    lines = [line for line in text.splitlines() if not line.lstrip().startswith(">")]
    return " ".join(" ".join(lines).split())[:MAX_CHARS].rstrip(" ")


def _text_parts(node: Node) -> Iterator[Node]:
    """Text parts in order, not descending into attached messages."""
    if node.is_multipart:
        for child in node.children:
            yield from _text_parts(child)
    elif node.mime.startswith("text/"):
        yield node
