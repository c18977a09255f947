"""AUTH [mechanism [initial-response]] (RFC 5034) with SASL PLAIN and LOGIN.

``AUTH`` alone lists the mechanisms (what Outlook and older clients send
first). Challenges are ``+ <base64>``; the client answers one base64 line or
``*`` to cancel.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from mailserver.auth import (
    LOGIN_PASSWORD_CHALLENGE,
    LOGIN_USERNAME_CHALLENGE,
    SaslError,
    decode_base64,
    parse_plain,
)
from mailserver.pop3.commands.login import PLAINTEXT_DISALLOWED, begin_transaction, login_failed
from mailserver.pop3.errors import Pop3Error
from mailserver.pop3.parser import Command

if TYPE_CHECKING:
    from mailserver.pop3.session import Pop3Session

MECHANISMS: tuple[str, ...] = ("PLAIN", "LOGIN")
CANCELLED = "-ERR authentication cancelled"
UNSUPPORTED = "-ERR unrecognized authentication mechanism"


def offered_mechanisms(session: Pop3Session) -> list[str]:
    """Both mechanisms send the password readable, so they need TLS or the site's consent."""
    return list(MECHANISMS) if session.plaintext_allowed else []


async def run(session: Pop3Session, command: Command) -> None:
    if not command.words:
        await session.send_lines("+OK SASL mechanisms follow", offered_mechanisms(session))
        return
    mechanism = command.words[0].upper()
    initial = command.words[1] if len(command.words) > 1 else None
    if mechanism not in MECHANISMS:
        raise Pop3Error(UNSUPPORTED)
    if not session.plaintext_allowed:
        raise Pop3Error(PLAINTEXT_DISALLOWED)
    if mechanism == "PLAIN":
        login, user = await _plain(session, initial)
    else:
        login, user = await _login(session, initial)
    if user is None:
        raise login_failed(session, login, f"AUTH {mechanism}")
    await begin_transaction(session, user, f"AUTH {mechanism}")


async def _response(session: Pop3Session, challenge: str, initial: str | None) -> bytes:
    """The decoded answer to one challenge (or the initial response, if the client sent one)."""
    if initial is None:
        await session.reply(f"+ {challenge}")
        initial = await session.read_continuation()
    if initial.strip() == "*":
        raise Pop3Error(CANCELLED)
    try:
        return decode_base64(initial)
    except SaslError as exc:
        raise Pop3Error(f"-ERR [AUTH] {exc.message}", bad=True) from None


def _text(data: bytes) -> str:
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError:
        raise Pop3Error("-ERR [AUTH] response is not valid UTF-8", bad=True) from None


async def _plain(session: Pop3Session, initial: str | None) -> tuple[str, str | None]:
    response = await _response(session, "", initial)
    try:
        authzid, authcid, password = parse_plain(response)
    except SaslError as exc:
        raise Pop3Error(f"-ERR [AUTH] {exc.message}", bad=True) from None
    user = await session.services.auth.authenticate(authcid, password, session.peer_ip)
    # Acting as someone else (a non-empty, different authzid) is never allowed.
    if user is not None and authzid and session.services.auth.resolve(authzid) != user:
        user = None
    return authcid, user


async def _login(session: Pop3Session, initial: str | None) -> tuple[str, str | None]:
    login = _text(await _response(session, LOGIN_USERNAME_CHALLENGE, initial))
    password = _text(await _response(session, LOGIN_PASSWORD_CHALLENGE, None))
    if not login or not password:
        return login, None
    return login, await session.services.auth.authenticate(login, password, session.peer_ip)
