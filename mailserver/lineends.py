"""Line ends of stored messages made CRLF, outside the storage package.

The parse helpers (``imap/mime/parsehelper.py``) are fresh interpreters
started by a big FETCH; they read message files and need exactly this
function, but not the maildir package, whose import cost them more CPU
than parsing a thousand messages (``mailserver.storage`` imports asyncio).
"""

from __future__ import annotations


def to_wire(data: bytes) -> bytes:
    """CRLF line ends, without doubling CRLFs already there (files from other tools)."""
    if b"\r\n" in data:
        data = data.replace(b"\r\n", b"\n")
    return data.replace(b"\n", b"\r\n")
