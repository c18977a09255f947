"""RFC 5256 2.1 base subject: the subject without ``Re:``, ``Fwd:``, ``[list]`` tags and
``(fwd)`` trailers, so that a thread's messages sort and group together.

Returns whether something reply-like was removed too: the REFERENCES
algorithm prefers the original over replies when it merges threads by
subject (RFC 5256 3, step 6).
"""

from __future__ import annotations

import re

from mailserver.imap.mime.headers import decode_header_text

_BLOB = r"\[[^\[\]]*\][ \t]*"
#: subj-leader: ``*subj-blob subj-refwd`` (re, fw, fwd, then an optional blob, then ":").
_REFWD = re.compile(rf"^(?:{_BLOB})*(?:re|fwd?)[ \t]*(?:{_BLOB})?:[ \t]*", re.IGNORECASE)
_LEADING_BLOB = re.compile(rf"^{_BLOB}")
_TRAILER = re.compile(r"[ \t]*\(fwd\)[ \t]*$", re.IGNORECASE)
_WSP = re.compile(r"[ \t\r\n]+")
#: Only this much of a subject counts: the steps below are quadratic in the worst
#: case ("x (fwd) (fwd) ..."), and no two real subjects first differ this far in.
MAX_CHARS = 2048


def base_subject(raw: str | None) -> tuple[str, bool]:
    """``(base subject, was a reply or forward)``; ``raw`` is the header value as sent."""
    if not raw:
        return "", False
    # (1) encoded words decoded, whitespace runs made one blank.
    text = _WSP.sub(" ", decode_header_text(raw[: 8 * MAX_CHARS])).strip(" ")[:MAX_CHARS]
    reply = False
    while True:
        # (2) trailing "(fwd)" and blanks.
        while True:
            stripped = _TRAILER.sub("", text).rstrip(" ")
            if stripped == text:
                break
            text = stripped
            reply = True
        # (3) and (4) repeated until nothing changes.
        while True:
            before = text
            text = text.lstrip(" ")
            match = _REFWD.match(text)
            if match is not None:
                text = text[match.end() :]
                reply = True
                continue
            blob = _LEADING_BLOB.match(text)
            if blob is not None and text[blob.end() :].strip(" "):
                text = text[blob.end() :]
                continue
            if text == before:
                break
        # (5) "[fwd: ...]" wrapped around the subject.
        if text[:5].lower() == "[fwd:" and text.endswith("]"):
            text = text[5:-1].strip(" ")
            reply = True
            continue
        return text, reply
