"""Modified UTF-7 (RFC 3501 5.1.3), the encoding of IMAP mailbox names.

Lives outside ``storage`` because both the IMAP layer (names on the wire) and
the maildir store (names on disk, as Dovecot stores them) need it. Decoding is
strict: a name that another client could spell differently is rejected, so
one folder never has two spellings.
"""

from __future__ import annotations

import base64
import binascii

__all__ = ["decode", "encode"]


def _is_direct(char: str) -> bool:
    """Printable US-ASCII represents itself, except ``&`` which starts a shift."""
    return "\x20" <= char <= "\x7e" and char != "&"


def _encode_run(run: str) -> str:
    raw = run.encode("utf-16-be")  # raises UnicodeEncodeError (a ValueError) on lone surrogates
    return "&" + base64.b64encode(raw).decode("ascii").rstrip("=").replace("/", ",") + "-"


def encode(text: str) -> str:
    """Encode a Unicode name; ``ValueError`` if it holds unpaired surrogates."""
    out: list[str] = []
    run_start = -1
    for index, char in enumerate(text):
        if _is_direct(char):
            if run_start >= 0:
                out.append(_encode_run(text[run_start:index]))
                run_start = -1
            out.append(char)
        elif char == "&":
            if run_start >= 0:
                out.append(_encode_run(text[run_start:index]))
                run_start = -1
            out.append("&-")
        elif run_start < 0:
            run_start = index
    if run_start >= 0:
        out.append(_encode_run(text[run_start:]))
    return "".join(out)


_B64_CHARS = frozenset("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+,")


def _decode_run(encoded: str) -> str:
    if not encoded:
        raise ValueError("empty shifted sequence")
    if not set(encoded) <= _B64_CHARS:
        raise ValueError("invalid character in shifted sequence")
    bits = len(encoded) * 6
    nbytes = bits // 8
    if nbytes % 2 or bits - nbytes * 8 >= 6:
        raise ValueError("truncated shifted sequence")
    padded = encoded.replace(",", "/") + "=" * (-len(encoded) % 4)
    try:
        raw = base64.b64decode(padded, validate=True)
    except binascii.Error as exc:
        raise ValueError("invalid base64 in shifted sequence") from exc
    # Non-zero padding bits mean a different encoder produced this: not canonical.
    if base64.b64encode(raw).decode("ascii").rstrip("=").replace("/", ",") != encoded:
        raise ValueError("non-canonical shifted sequence")
    try:
        text = raw.decode("utf-16-be")
    except UnicodeDecodeError as exc:
        raise ValueError("invalid UTF-16 in shifted sequence") from exc
    if any(_is_direct(char) or char == "&" for char in text):
        raise ValueError("printable ASCII must not be shifted")
    return text


def decode(name: str) -> str:
    """Decode a modified UTF-7 name; ``ValueError`` if it is not canonical mUTF-7."""
    out: list[str] = []
    index = 0
    length = len(name)
    while index < length:
        char = name[index]
        if char == "&":
            end = name.find("-", index + 1)
            if end < 0:
                raise ValueError("unterminated shifted sequence")
            if end == index + 1:
                out.append("&")
            else:
                out.append(_decode_run(name[index + 1 : end]))
                if name.startswith("&", end + 1) and not name.startswith("&-", end + 1):
                    raise ValueError("adjacent shifted sequences are not canonical")
            index = end + 1
        elif _is_direct(char):
            out.append(char)
            index += 1
        else:
            raise ValueError("character not allowed in modified UTF-7")
    return "".join(out)
