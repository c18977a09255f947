"""STLS and CAPA decisions (RFC 2595): what is offered, allowed and forgotten, when.

The session is real but its writer only records what would go on the wire,
and the TLS handshake itself is replaced by a flag: the handshake is covered
against real sockets in ``tests/dialogue/test_pop3_stls.py`` and
``tests/integration/pop3/test_tls.py``.
"""

from __future__ import annotations

import asyncio
import ssl
from dataclasses import replace
from pathlib import Path
from typing import Any, cast

import pytest

from mailserver.auth import Authenticator
from mailserver.config import AuthSettings, Config, ListenAddress
from mailserver.listeners import ListenerContext
from mailserver.net.sessions import SessionRegistry
from mailserver.pop3.commands import COMMANDS
from mailserver.pop3.commands.capa import capabilities
from mailserver.pop3.locks import MaildropLocks
from mailserver.pop3.session import Pop3Session
from mailserver.pop3.states import State
from mailserver.services import Services
from mailserver.storage import MailStore


class RecordingWriter:
    """Just enough of ``asyncio.StreamWriter`` for replies to be collected."""

    def __init__(self) -> None:
        self.data = bytearray()

    def write(self, data: bytes) -> None:
        self.data += data

    async def drain(self) -> None:
        return None

    def lines(self) -> list[str]:
        return self.data.decode().split("\r\n")[:-1]


def make_session(
    tmp_path: Path,
    *,
    starttls: bool = True,
    implicit: bool = False,
    allow_plaintext: bool = True,
) -> tuple[Pop3Session, RecordingWriter]:
    config = replace(
        Config(
            hostname="JServer.NetLab",
            domains=("JServer.NetLab",),
            data_dir=tmp_path,
            listeners={"pop3": ListenAddress("127.0.0.1", 0)},
        ),
        auth=AuthSettings(allow_plaintext_without_tls=allow_plaintext),
    )
    # Nothing here logs in, so neither the store nor the authenticator is ever called.
    services = Services(
        config=config, store=cast(MailStore, object()), auth=cast(Authenticator, object())
    )
    context_tls = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    context = ListenerContext(
        name="pop3s" if implicit else "pop3",
        services=services,
        address=config.listeners["pop3"],
        sessions=SessionRegistry(10, 10),
        ssl_context=context_tls if implicit else None,
        starttls_context=context_tls if starttls and not implicit else None,
    )
    writer = RecordingWriter()
    session = Pop3Session(
        context,
        MaildropLocks(),
        asyncio.StreamReader(),
        cast(asyncio.StreamWriter, writer),
        "192.0.2.1",
    )
    return session, writer


def fake_handshake(session: Pop3Session) -> list[ssl.SSLContext]:
    """Replace the handshake by what it leaves behind: a secure session."""
    calls: list[ssl.SSLContext] = []

    async def start_tls(context: ssl.SSLContext) -> None:
        calls.append(context)
        session.secure = True

    cast(Any, session).start_tls = start_tls
    return calls


def test_stls_is_authorization_only() -> None:
    assert COMMANDS["STLS"].states == frozenset({State.AUTHORIZATION})


async def test_capa_offers_stls_before_tls(tmp_path: Path) -> None:
    session, _ = make_session(tmp_path)
    caps = capabilities(session)
    assert "STLS" in caps
    assert "USER" in caps
    assert "SASL PLAIN LOGIN" in caps


async def test_capa_without_starttls_context(tmp_path: Path) -> None:
    session, _ = make_session(tmp_path, starttls=False)
    assert "STLS" not in capabilities(session)


async def test_capa_on_implicit_tls(tmp_path: Path) -> None:
    session, _ = make_session(tmp_path, implicit=True, allow_plaintext=False)
    caps = capabilities(session)
    assert session.secure
    assert "STLS" not in caps
    assert "USER" in caps
    assert "SASL PLAIN LOGIN" in caps


async def test_capa_not_offering_stls_in_transaction(tmp_path: Path) -> None:
    session, _ = make_session(tmp_path)
    session.state = State.TRANSACTION
    assert "STLS" not in capabilities(session)


async def test_policy_hides_plaintext_logins_until_tls(tmp_path: Path) -> None:
    session, _ = make_session(tmp_path, allow_plaintext=False)
    caps = capabilities(session)
    assert "STLS" in caps
    assert "USER" not in caps
    assert not any(line.startswith("SASL") for line in caps)
    session.secure = True
    caps = capabilities(session)
    assert "STLS" not in caps
    assert "USER" in caps
    assert "SASL PLAIN LOGIN" in caps


async def test_stls_replies_then_upgrades_and_forgets_user(tmp_path: Path) -> None:
    session, writer = make_session(tmp_path)
    calls = fake_handshake(session)
    await session.execute(b"user group1_1")
    assert session.pending_user == "group1_1"
    await session.execute(b"stls")
    assert writer.lines() == ["+OK", "+OK Begin TLS negotiation"]
    assert calls == [session.starttls_context]
    assert session.pending_user is None
    assert session.secure
    assert session.state is State.AUTHORIZATION


async def test_stls_twice_is_refused(tmp_path: Path) -> None:
    session, writer = make_session(tmp_path)
    calls = fake_handshake(session)
    await session.execute(b"STLS")
    await session.execute(b"STLS")
    assert writer.lines()[-1].startswith("-ERR")
    assert len(calls) == 1


async def test_stls_on_implicit_tls_is_refused(tmp_path: Path) -> None:
    session, writer = make_session(tmp_path, implicit=True)
    calls = fake_handshake(session)
    await session.execute(b"STLS")
    assert writer.lines() == ["-ERR command not permitted when TLS active"]
    assert calls == []


async def test_stls_without_context_is_refused(tmp_path: Path) -> None:
    session, writer = make_session(tmp_path, starttls=False)
    calls = fake_handshake(session)
    await session.execute(b"STLS")
    assert writer.lines() == ["-ERR STLS not available on this server"]
    assert calls == []
    assert not session.secure


async def test_stls_after_login_is_refused(tmp_path: Path) -> None:
    session, writer = make_session(tmp_path)
    calls = fake_handshake(session)
    session.state = State.TRANSACTION
    await session.execute(b"STLS")
    [reply] = writer.lines()
    assert reply.startswith("-ERR")
    assert calls == []


@pytest.mark.parametrize("line", [b"USER group1_1", b"PASS group1_1", b"AUTH PLAIN AGdyb3VwMV8x"])
async def test_plaintext_logins_refused_before_tls(tmp_path: Path, line: bytes) -> None:
    session, writer = make_session(tmp_path, allow_plaintext=False)
    await session.execute(line)
    assert writer.lines() == ["-ERR [AUTH] plaintext authentication disallowed without TLS"]
    assert session.pending_user is None


async def test_user_accepted_after_stls_when_policy_requires_tls(tmp_path: Path) -> None:
    session, writer = make_session(tmp_path, allow_plaintext=False)
    fake_handshake(session)
    await session.execute(b"STLS")
    await session.execute(b"USER group1_1")
    assert writer.lines()[-1] == "+OK"
    assert session.pending_user == "group1_1"
