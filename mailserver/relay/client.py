"""One SMTP transaction to a next hop, through aiosmtplib.

aiosmtplib is a maintained asyncio SMTP client (used by many projects, typed,
with STARTTLS, AUTH and RFC 3207's "forget the extensions after TLS"); we
write only the policy around it: EHLO with HELO fallback, STARTTLS by the
route's TLS mode, AUTH to a smarthost, SIZE, and RFC 6152/6531's rule that a
message needing 8BITMIME or SMTPUTF8 is bounced rather than corrupted when
the next hop cannot take it. All recipients for one host travel in one
transaction; each gets its own :class:`Outcome`.

Not done: PIPELINING (aiosmtplib sends commands one at a time; correctness
does not depend on it) and BDAT (plain DATA is accepted everywhere).
"""

from __future__ import annotations

import contextlib
import os
import ssl
from dataclasses import dataclass

import aiosmtplib

from mailserver.config.model import RelayRoute
from mailserver.smtp.dsn import xtext_encode


@dataclass(frozen=True)
class Outcome:
    """What the next hop (or we, about it) said for one recipient."""

    #: 2 delivered, 4 try again later, 5 give up.
    kind: int
    reply: str
    relay: str
    #: The next hop took the DSN request: it reports success itself (RFC 3461 5.2).
    dsn_passed: bool = False


@dataclass(frozen=True)
class Hop:
    host: str
    port: int
    #: TLS mode and AUTH credentials when the hop comes from the config.
    route: RelayRoute | None = None

    def __str__(self) -> str:
        return f"{self.host}:{self.port}"


@dataclass(frozen=True)
class Transaction:
    sender: str
    #: (address, NOTIFY words, ORCPT) per recipient.
    recipients: list[tuple[str, list[str], str | None]]
    data: bytes
    ret: str | None = None
    envid: str | None = None
    smtputf8: bool = False
    body_8bit: bool = False


class HopFailed(Exception):
    """The hop could not be used at all (connect, greeting, EHLO, TLS): try the next one."""

    def __init__(self, reply: str, kind: int = 4) -> None:
        super().__init__(reply)
        self.reply = reply
        self.kind = kind


def _reply(exc: aiosmtplib.SMTPResponseException) -> str:
    return f"{exc.code} {' '.join(exc.message.split())}"


def _insecure_context() -> ssl.SSLContext:
    """Lab servers use self-signed certificates: encrypt, but do not verify (like
    Postfix's ``may`` and ``encrypt`` levels)."""
    context = ssl.create_default_context()
    context.check_hostname = False
    context.verify_mode = ssl.CERT_NONE
    return context


async def deliver(
    hop: Hop,
    transaction: Transaction,
    helo: str,
    connect_timeout: float,
    command_timeout: float,
) -> dict[str, Outcome]:
    """Run one transaction; raises :class:`HopFailed` when no recipient was tried."""
    tls_mode = hop.route.tls if hop.route is not None else "opportunistic"
    client = aiosmtplib.SMTP(
        hostname=hop.host,
        port=hop.port,
        local_hostname=helo,
        timeout=command_timeout,
        start_tls=False,
        use_tls=False,
        validate_certs=False,
    )
    try:
        await client.connect(timeout=connect_timeout)
    except aiosmtplib.SMTPConnectResponseError as exc:
        raise HopFailed(
            f"host {hop} refused to talk to me: {_reply(exc)}", exc.code // 100
        ) from None
    except (aiosmtplib.SMTPException, OSError) as exc:
        raise HopFailed(f"connect to {hop}: {_describe(exc)}") from None
    relay = _relay_name(client, hop)
    try:
        return await _transaction(client, hop, relay, tls_mode, transaction, helo)
    except aiosmtplib.SMTPServerDisconnected:
        raise HopFailed(f"lost connection with {relay}") from None
    except aiosmtplib.SMTPTimeoutError:
        raise HopFailed(f"conversation with {relay} timed out") from None
    finally:
        if client.is_connected:
            try:
                await client.quit(timeout=5)
            except (aiosmtplib.SMTPException, OSError):
                client.close()


async def _transaction(
    client: aiosmtplib.SMTP,
    hop: Hop,
    relay: str,
    tls_mode: str,
    transaction: Transaction,
    helo: str,
) -> dict[str, Outcome]:
    await _hello(client, relay, helo)
    if tls_mode != "none" and client.supports_extension("starttls"):
        try:
            await client.starttls(tls_context=_insecure_context())
        except aiosmtplib.SMTPResponseException as exc:
            if tls_mode == "required":
                raise HopFailed(f"{relay} refused STARTTLS: {_reply(exc)}") from None
        except (ssl.SSLError, aiosmtplib.SMTPException) as exc:
            raise HopFailed(f"TLS with {relay} failed: {_describe(exc)}") from None
        else:
            await _hello(client, relay, helo)
    elif tls_mode == "required":
        raise HopFailed(f"{relay} does not offer STARTTLS, which the route requires")
    route = hop.route
    if route is not None and route.username is not None and route.password is not None:
        try:
            await client.login(route.username, route.password)
        except aiosmtplib.SMTPAuthenticationError as exc:
            raise HopFailed(f"{relay} refused our login: {_reply(exc)}") from None
        except aiosmtplib.SMTPException as exc:
            raise HopFailed(f"cannot log in to {relay}: {_describe(exc)}") from None
    refusal = _unsendable(client, transaction)
    if refusal is not None:
        return {address: Outcome(5, refusal, relay) for address, _, _ in transaction.recipients}
    dsn = client.supports_extension("dsn")
    options = _mail_options(client, transaction, dsn)
    encoding = "utf-8" if transaction.smtputf8 else "ascii"
    try:
        await client.mail(transaction.sender, options=options, encoding=encoding)
    except aiosmtplib.SMTPResponseException as exc:
        reply = _reply(exc)
        return {a: Outcome(exc.code // 100, reply, relay) for a, _, _ in transaction.recipients}
    results: dict[str, Outcome] = {}
    accepted: list[str] = []
    for address, notify, orcpt in transaction.recipients:
        rcpt_options: list[str] = []
        if dsn:
            if notify:
                rcpt_options.append("NOTIFY=" + ",".join(notify))
            rcpt_options.append("ORCPT=" + (orcpt or "rfc822;" + xtext_encode(address)))
        try:
            await client.rcpt(address, options=rcpt_options, encoding=encoding)
        except aiosmtplib.SMTPResponseException as exc:
            results[address] = Outcome(exc.code // 100, _reply(exc), relay)
        else:
            accepted.append(address)
    if not accepted:
        with contextlib.suppress(aiosmtplib.SMTPException):
            await client.rset()
        return results
    try:
        response = await client.data(transaction.data)
    except aiosmtplib.SMTPResponseException as exc:
        outcome = Outcome(exc.code // 100, _reply(exc), relay)
    else:
        text = f"{response.code} {' '.join(response.message.split())}"
        outcome = Outcome(2, text, relay, dsn_passed=dsn)
    results.update({address: outcome for address in accepted})
    return results


async def _hello(client: aiosmtplib.SMTP, relay: str, helo: str) -> None:
    try:
        await client.ehlo(hostname=helo)
    except aiosmtplib.SMTPHeloError:
        try:
            await client.helo(hostname=helo)
        except aiosmtplib.SMTPHeloError as exc:
            raise HopFailed(f"{relay} refused our HELO: {_reply(exc)}", exc.code // 100) from None


def _unsendable(client: aiosmtplib.SMTP, transaction: Transaction) -> str | None:
    """Why the message cannot go to this hop at all (a permanent reply), or None."""
    if transaction.smtputf8 and not client.supports_extension("smtputf8"):
        return "554 5.6.7 next hop does not support SMTPUTF8 (RFC 6531)"
    if transaction.body_8bit and not client.supports_extension("8bitmime"):
        return "554 5.6.3 next hop does not support 8BITMIME (RFC 6152)"
    limit = client.esmtp_extensions.get("size", "")
    if limit.isdigit() and int(limit) > 0 and len(transaction.data) > int(limit):
        return f"552 5.3.4 message size exceeds the next hop's limit of {limit} octets"
    return None


def _mail_options(client: aiosmtplib.SMTP, transaction: Transaction, dsn: bool) -> list[str]:
    options: list[str] = []
    if client.supports_extension("size"):
        options.append(f"SIZE={len(transaction.data)}")
    if transaction.body_8bit:
        options.append("BODY=8BITMIME")
    if transaction.smtputf8:
        options.append("SMTPUTF8")
    if dsn:
        if transaction.ret:
            options.append(f"RET={transaction.ret}")
        if transaction.envid:
            options.append(f"ENVID={transaction.envid}")
    return options


def _relay_name(client: aiosmtplib.SMTP, hop: Hop) -> str:
    """``host[ip]:port`` as Postfix logs it."""
    peer = client.get_transport_info("peername")
    ip = peer[0] if peer else hop.host
    return f"{hop.host}[{ip}]:{hop.port}"


def _describe(exc: BaseException) -> str:
    """A short reason: the OS error text when there is one (Connection refused)."""
    for error in (exc, exc.__cause__, exc.__context__):
        if isinstance(error, OSError) and error.errno:
            return os.strerror(error.errno)
    text = str(exc).strip()
    return text or type(exc).__name__
