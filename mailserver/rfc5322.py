"""The header section of an RFC 5322 message: where it ends, without parsing it.

Shared by whoever receives a message (SMTP's DATA, the spool) and whoever
completes its header (SMTP's delivery); pure byte work, no I/O.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

CRLF = b"\r\n"

#: A header field's first line: a name of printable ASCII but ":" (RFC 5322
#: 2.2), optionally followed by blanks (the obsolete ``Subject :`` form), then ":".
_FIELD_START = re.compile(rb"[\x21-\x39\x3b-\x7e]+[ \t]*:")


@dataclass(frozen=True)
class HeaderSplit:
    """``header`` ends with a line break (or is empty); ``body`` follows the blank line."""

    header: bytes
    body: bytes
    #: False when the client sent no blank line between the fields and the body.
    had_separator: bool


def split_header(content: bytes) -> HeaderSplit:
    """Find the header section: leading lines that are fields or their continuations.

    The first line that is neither ends it. A blank line is the proper end;
    any other line means the client forgot the blank line (or sent no header
    at all, like a bare ``myemail``), and that line starts the body.
    """
    pos = 0
    seen_field = False
    while pos < len(content):
        newline = content.find(b"\n", pos)
        end = len(content) if newline < 0 else newline + 1
        line = content[pos:end].rstrip(b"\r\n")
        if not line:
            return HeaderSplit(content[:pos], content[end:], True)
        is_continuation = seen_field and line[:1] in (b" ", b"\t")
        if not (is_continuation or _FIELD_START.match(line)):
            break
        seen_field = True
        pos = end
    header = content[:pos]
    if header and not header.endswith(b"\n"):
        header += CRLF
    return HeaderSplit(header, content[pos:], False)
