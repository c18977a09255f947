"""DSN parameters on MAIL and RCPT (RFC 3461): parsed here, kept in the queue.

aiosmtpd knows only SIZE, BODY and SMTPUTF8 and refuses any other parameter
(and upper-cases the rest, which would spoil ENVID and ORCPT). So the
session takes the DSN parameters off the command line first
(:func:`take`), checks them, and hands aiosmtpd what is left.
"""

from __future__ import annotations

from dataclasses import dataclass

from mailserver.smtp import policy

MAIL_KEYS = ("RET", "ENVID")
RCPT_KEYS = ("NOTIFY", "ORCPT")
NOTIFY_WORDS = ("SUCCESS", "FAILURE", "DELAY")
#: RFC 3461 4.4: ENVID at most 100 characters; ORCPT's address at most 500.
MAX_ENVID = 100
MAX_ORCPT = 500


@dataclass(frozen=True)
class Params:
    """What a MAIL or RCPT command said about DSNs (absent keys are None)."""

    ret: str | None = None
    envid: str | None = None
    notify: tuple[str, ...] = ()
    orcpt: str | None = None


class DsnSyntaxError(ValueError):
    """The reply text says what is wrong, for the client."""


def take(arg: str, keys: tuple[str, ...]) -> tuple[str, Params]:
    """Split DSN ``keys`` off ``arg`` (``FROM:<path> PARAM=... ...`` or ``TO:...``).

    Returns the argument without them (for aiosmtpd) and the parsed values.
    An argument that does not parse as a path is returned unchanged: aiosmtpd
    reports that error in its own words.
    """
    keyword, colon, text = arg.partition(":")
    if not colon or keyword.strip().upper() not in ("FROM", "TO"):
        return arg, Params()
    text = text.strip()
    parsed = policy.parse_path(text)
    if parsed is None or not parsed[1]:
        return arg, Params()
    rest = parsed[1]
    path = text[: len(text) - len(rest)].rstrip()
    kept: list[str] = []
    found: dict[str, str] = {}
    for word in rest.split():
        key, _, value = word.partition("=")
        name = key.upper()
        if name not in keys:
            kept.append(word)
            continue
        if name in found:
            raise DsnSyntaxError(f"501 5.5.4 Duplicate {name} parameter")
        found[name] = value
    return keyword + ":" + " ".join([path, *kept]), _check(found)


def _check(found: dict[str, str]) -> Params:
    ret = found.get("RET")
    if ret is not None:
        ret = ret.upper()
        if ret not in ("FULL", "HDRS"):
            raise DsnSyntaxError("501 5.5.4 RET must be FULL or HDRS")
    envid = found.get("ENVID")
    if envid is not None and (not envid or len(envid) > MAX_ENVID or not is_xtext(envid)):
        raise DsnSyntaxError("501 5.5.4 Malformed ENVID parameter")
    notify: tuple[str, ...] = ()
    if "NOTIFY" in found:
        words = tuple(w.upper() for w in found["NOTIFY"].split(","))
        valid = words == ("NEVER",) or (
            words and all(w in NOTIFY_WORDS for w in words) and len(set(words)) == len(words)
        )
        if not valid:
            raise DsnSyntaxError(
                "501 5.5.4 NOTIFY must be NEVER or a list of SUCCESS, FAILURE, DELAY"
            )
        notify = words
    orcpt = found.get("ORCPT")
    if orcpt is not None:
        kind, semicolon, address = orcpt.partition(";")
        if not semicolon or not kind or not address or len(address) > MAX_ORCPT:
            raise DsnSyntaxError("501 5.5.4 Malformed ORCPT parameter")
        if not is_xtext(address):
            raise DsnSyntaxError("501 5.5.4 Malformed ORCPT parameter")
    return Params(ret=ret, envid=envid, notify=notify, orcpt=orcpt)


def is_xtext(text: str) -> bool:
    """RFC 3461 4: printable ASCII but ``+`` and ``=``, with ``+XX`` hex escapes."""
    index = 0
    while index < len(text):
        char = text[index]
        if char == "+":
            code = text[index + 1 : index + 3]
            if len(code) != 2 or any(c not in "0123456789ABCDEF" for c in code):
                return False
            index += 3
            continue
        if not 33 <= ord(char) <= 126 or char == "=":
            return False
        index += 1
    return True


def xtext_decode(text: str) -> str:
    """``+2B`` -> ``+``; invalid escapes are kept as they are."""
    out: list[str] = []
    index = 0
    while index < len(text):
        code = text[index + 1 : index + 3]
        if text[index] == "+" and len(code) == 2:
            try:
                out.append(chr(int(code, 16)))
                index += 3
                continue
            except ValueError:
                pass
        out.append(text[index])
        index += 1
    return "".join(out)


def xtext_encode(text: str) -> str:
    """The reverse, for ORCPT we make up ourselves (``rfc822;user@example``)."""
    return "".join(
        c if 33 <= ord(c) <= 126 and c not in "+=" else f"+{ord(c):02X}"
        for c in text.encode("utf-8", "surrogateescape").decode("latin-1")
    )
