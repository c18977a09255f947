"""STARTTLS, LOGIN and AUTHENTICATE (PLAIN, LOGIN; SASL-IR initial responses, RFC 4959)."""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING

from mailserver.auth import sasl
from mailserver.imap.errors import Response, bad, no
from mailserver.imap.parser.commands import Authenticate, Login, NoArguments
from mailserver.imap.states import State

if TYPE_CHECKING:
    from mailserver.imap.session import ImapSession

log = logging.getLogger("mailserver.imap")

MECHANISMS = ("PLAIN", "LOGIN")


async def starttls(session: ImapSession, command: NoArguments) -> Response:
    if session.secure:
        raise bad("TLS is already active")
    if session.starttls_context is None:
        raise no("STARTTLS is not available", "CANNOT")
    # The handshake starts once this OK is on the wire (see ImapSession.execute).
    session.pending_tls = session.starttls_context
    return Response("OK", "Begin TLS negotiation now")


async def login(session: ImapSession, command: Login) -> Response:
    _require_plaintext(session)
    return await _log_in(session, command.user, command.password, "LOGIN")


async def authenticate(session: ImapSession, command: Authenticate) -> Response:
    if command.mechanism not in MECHANISMS:
        raise no("Unsupported authentication mechanism", "CANNOT")
    _require_plaintext(session)
    if command.mechanism == "PLAIN":
        response = command.initial
        if response is None:
            response = await _challenge(session, "")
        try:
            authzid, user, password = sasl.parse_plain(_decode(response))
        except sasl.SaslError as exc:
            raise bad(exc.message) from None
        if authzid and session.auth.resolve(authzid) != session.auth.resolve(user):
            raise no("Authorization identity not allowed", "AUTHORIZATIONFAILED")
        return await _log_in(session, user, password, "AUTHENTICATE PLAIN")
    first = command.initial
    if first is None:
        first = await _challenge(session, sasl.LOGIN_USERNAME_CHALLENGE)
    user = _text(_decode(first))
    password = _text(_decode(await _challenge(session, sasl.LOGIN_PASSWORD_CHALLENGE)))
    return await _log_in(session, user, password, "AUTHENTICATE LOGIN")


def _require_plaintext(session: ImapSession) -> None:
    if not session.plaintext_allowed:
        raise no("Plaintext authentication disallowed without TLS", "PRIVACYREQUIRED")


async def _challenge(session: ImapSession, challenge: str) -> str:
    await session.send(f"+ {challenge}\r\n".encode())
    line = (await session.read_continuation()).decode("ascii", "replace")
    if line.strip() == "*":
        raise bad("Authentication cancelled")
    return line


def _decode(text: str) -> bytes:
    try:
        return sasl.decode_base64(text)
    except sasl.SaslError as exc:
        raise bad(exc.message) from None


def _text(data: bytes) -> str:
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError:
        raise bad("Response is not valid UTF-8") from None


async def _log_in(session: ImapSession, login_name: str, password: str, mechanism: str) -> Response:
    user = await session.auth.authenticate(login_name, password, session.peer_ip)
    if user is None:
        log.info("imap %s: failed login for %r", session.peer, login_name[:64])
        raise no("Authentication failed", "AUTHENTICATIONFAILED")
    session.mailbox = await session.store.mailbox(user)
    session.user = user
    session.state = State.AUTHENTICATED
    session.recorder.login(user, mechanism)
    if session.handle is not None:
        session.handle.logged_in()
    log.info("imap %s: %s logged in (%s)", session.peer, user, mechanism)
    return Response("OK", "Logged in", f"CAPABILITY {session.capabilities()}")
