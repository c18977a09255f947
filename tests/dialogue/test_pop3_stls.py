"""STLS transcripts (RFC 2595) against the in-process listener on the default asyncio loop.

The same behaviour under uvloop, in the real server process and with real
clients, is in ``tests/integration/pop3/test_tls.py``.
"""

from __future__ import annotations

import asyncio

from mailserver.config import AuthSettings
from tests.dialogue import test_pop3_rfc1939 as harness
from tests.dialogue.test_pop3_rfc1939 import REPLY_TIMEOUT, Dialogue, LabFactory

lab_factory = harness.lab_factory


async def capa(pop3: Dialogue) -> list[str]:
    await pop3.send("CAPA")
    await pop3.expect("+OK Capability list follows")
    return [line.decode() for line in await pop3.multiline()]


async def rest_of_session(pop3: Dialogue) -> bytes:
    """Everything the server sends until it closes the connection."""
    return await asyncio.wait_for(pop3.reader.read(), REPLY_TIMEOUT)


async def test_stls_then_login(lab_factory: LabFactory) -> None:
    lab = await lab_factory(starttls=True)
    await lab.deliver("group1_1", b"Subject: hi\r\n\r\nover TLS\r\n")
    pop3 = await lab.connect()
    assert "STLS" in await capa(pop3)
    await pop3.play(
        """
        C: stls
        S: +OK Begin TLS negotiation
        """
    )
    await pop3.starttls(lab.client_tls_context())
    assert "STLS" not in await capa(pop3)
    await pop3.play(
        """
        C: user group1_1
        S: +OK
        C: pass group1_1
        S: +OK 1 message (* octets)
        C: stls
        S: -ERR*
        C: retr 1
        S: +OK * octets
        """
    )
    assert await pop3.multiline() == [b"Subject: hi", b"", b"over TLS"]
    await pop3.play("C: quit\nS: +OK")


async def test_pipelined_plaintext_after_stls_is_discarded(lab_factory: LabFactory) -> None:
    lab = await lab_factory(starttls=True)
    pop3 = await lab.connect()
    await pop3.send(b"STLS\r\nCAPA\r\nUSER group1_1")
    await pop3.expect("+OK Begin TLS negotiation")
    await pop3.starttls(lab.client_tls_context())
    await pop3.send("PASS group1_1")
    await pop3.send("QUIT")
    # Neither the injected CAPA nor the injected USER took effect.
    assert await rest_of_session(pop3) == b"-ERR send USER first\r\n+OK\r\n"


async def test_user_before_stls_is_forgotten(lab_factory: LabFactory) -> None:
    lab = await lab_factory(starttls=True)
    pop3 = await lab.connect()
    await pop3.play("C: USER group1_1\nS: +OK\nC: STLS\nS: +OK Begin TLS negotiation")
    await pop3.starttls(lab.client_tls_context())
    await pop3.play("C: PASS group1_1\nS: -ERR send USER first")


async def test_plaintext_policy_lifted_by_stls(lab_factory: LabFactory) -> None:
    lab = await lab_factory(starttls=True, auth=AuthSettings(allow_plaintext_without_tls=False))
    pop3 = await lab.connect()
    before = await capa(pop3)
    assert "STLS" in before
    assert "USER" not in before
    await pop3.play(
        """
        C: USER group1_1
        S: -ERR [AUTH] plaintext authentication disallowed without TLS
        C: AUTH PLAIN AGdyb3VwMV8xAGdyb3VwMV8x
        S: -ERR [AUTH] plaintext authentication disallowed without TLS
        C: STLS
        S: +OK Begin TLS negotiation
        """
    )
    await pop3.starttls(lab.client_tls_context())
    after = await capa(pop3)
    assert "USER" in after
    assert "SASL PLAIN LOGIN" in after
    await pop3.play("C: AUTH PLAIN AGdyb3VwMV8xAGdyb3VwMV8x\nS: +OK 0 messages (0 octets)")


async def test_stls_refused_without_tls_configured(lab_factory: LabFactory) -> None:
    lab = await lab_factory()
    pop3 = await lab.connect()
    assert "STLS" not in await capa(pop3)
    await pop3.play("C: STLS\nS: -ERR STLS not available on this server\nC: USER x\nS: +OK")


async def test_failed_handshake_ends_only_that_session(lab_factory: LabFactory) -> None:
    lab = await lab_factory(starttls=True)
    pop3 = await lab.connect()
    await pop3.play("C: STLS\nS: +OK Begin TLS negotiation")
    # Plaintext where a ClientHello belongs: the server hangs up.
    await pop3.send("USER group1_1")
    # At most a TLS alert comes back, never a POP3 reply to the plaintext line.
    assert b"+OK" not in await rest_of_session(pop3)
    other = await lab.connect()
    await other.play("C: QUIT\nS: +OK")


async def test_shutdown_during_handshake_hangs_up(lab_factory: LabFactory) -> None:
    lab = await lab_factory(starttls=True)
    pop3 = await lab.connect()
    await pop3.play("C: STLS\nS: +OK Begin TLS negotiation")
    # The client never sends its ClientHello; shutdown must not wait for it.
    await asyncio.wait_for(lab.sessions.shutdown(5.0), REPLY_TIMEOUT)
    assert await rest_of_session(pop3) == b""
    assert len(lab.sessions) == 0
