"""SMTP AUTH mechanisms (RFC 4954): PLAIN, LOGIN and CRAM-MD5, typed by hand or sent by clients.

Each mechanism is a coroutine taking the exchange (how to send a ``334``
challenge and read the answer), the optional initial response, the
authenticator, the client's address (every check goes through the login
throttle with it) and our host name (CRAM-MD5 challenges carry it); it
returns an :class:`Outcome` naming the reply. Decoding is
``mailserver.auth.sasl``'s, so a student's base64 is judged the same here as
in POP3 and IMAP. The session does the framing checks (state, TLS, which
mechanism) in ``protocol.py``; this module never touches the socket.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Protocol

from mailserver.auth import (
    LOGIN_PASSWORD_CHALLENGE,
    LOGIN_USERNAME_CHALLENGE,
    Authenticator,
    LoginBlocked,
    SaslError,
    decode_base64,
    encode_base64,
    make_cram_md5_challenge,
    parse_cram_md5,
    parse_plain,
)
from mailserver.smtp import replies


class Cancelled(Exception):
    """The client answered a challenge with ``*`` (RFC 4954 4)."""


class Exchange(Protocol):
    async def ask(self, challenge: str) -> str:
        """Send ``334 <challenge>`` and return the client's line; raise :class:`Cancelled`
        on ``*`` and :class:`SaslError` for a line too long to be an answer."""
        ...


@dataclass(frozen=True)
class Outcome:
    reply: str
    #: Canonical user on success.
    user: str | None = None
    #: What the client gave as its name, for the log (never the password).
    login: str | None = None


#: (exchange, initial response, authenticator, client IP for the login throttle, our hostname)
Mechanism = Callable[[Exchange, str | None, Authenticator, str | None, str], Awaitable[Outcome]]


def _text(data: bytes, what: str) -> str:
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError:
        raise SaslError(f"{what} is not valid UTF-8") from None


async def auth_plain(
    exchange: Exchange, initial: str | None, auth: Authenticator, client: str | None, hostname: str
) -> Outcome:
    response = initial if initial is not None else await exchange.ask("")
    authzid, authcid, password = parse_plain(decode_base64(response))
    user = await auth.authenticate(authcid, password, client)
    # We let nobody act for somebody else: an authzid must name the same account.
    if user is not None and authzid and auth.resolve(authzid) != user:
        user = None
    if user is None:
        return Outcome(replies.AUTH_FAILED, login=authcid)
    return Outcome(replies.AUTH_OK, user=user, login=authcid)


async def auth_login(
    exchange: Exchange, initial: str | None, auth: Authenticator, client: str | None, hostname: str
) -> Outcome:
    response = initial if initial is not None else await exchange.ask(LOGIN_USERNAME_CHALLENGE)
    login = _text(decode_base64(response), "user name")
    password = _text(decode_base64(await exchange.ask(LOGIN_PASSWORD_CHALLENGE)), "password")
    user = await auth.authenticate(login, password, client)
    if user is None:
        return Outcome(replies.AUTH_FAILED, login=login)
    return Outcome(replies.AUTH_OK, user=user, login=login)


async def auth_cram_md5(
    exchange: Exchange, initial: str | None, auth: Authenticator, client: str | None, hostname: str
) -> Outcome:
    """RFC 2195. Needs the user's plaintext-equivalent secret: an account stored
    with a hash only fails like a wrong password (535), never with an error."""
    if initial is not None:
        raise SaslError("CRAM-MD5 takes no initial response")
    challenge = make_cram_md5_challenge(hostname)
    login, digest = parse_cram_md5(decode_base64(await exchange.ask(encode_base64(challenge))))
    user = await auth.cram_md5(login, challenge, digest, client=client)
    if user is None:
        return Outcome(replies.AUTH_FAILED, login=login)
    return Outcome(replies.AUTH_OK, user=user, login=login)


#: Mechanism name (upper case) -> handler, in the order we advertise them.
MECHANISMS: dict[str, Mechanism] = {
    "PLAIN": auth_plain,
    "LOGIN": auth_login,
    "CRAM-MD5": auth_cram_md5,
}


async def run_mechanism(
    name: str,
    exchange: Exchange,
    initial: str | None,
    auth: Authenticator,
    client: str | None = None,
    hostname: str = "localhost",
) -> Outcome:
    """Run one exchange; malformed answers and ``*`` end it with a 501, never an exception."""
    mechanism = MECHANISMS.get(name.upper())
    if mechanism is None:
        return Outcome(replies.AUTH_UNKNOWN_MECHANISM)
    try:
        return await mechanism(exchange, initial, auth, client, hostname)
    except Cancelled:
        return Outcome(replies.AUTH_CANCELLED)
    except LoginBlocked as exc:
        return Outcome(replies.login_blocked(exc.reason))
    except SaslError as exc:
        return Outcome(replies.auth_malformed(exc.message))
