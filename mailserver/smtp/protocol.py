"""The SMTP session: aiosmtpd's ``SMTP`` protocol, adjusted through its extension points.

What we change, and why:

* an explicit command table (unknown verbs get ``500`` from one handler);
* every ``5xx`` reply is counted and the ``limits.max_bad_commands``-th one is
  followed by ``421`` and the close, as in POP3 and IMAP (Postfix's error limit; aiosmtpd's own
  ``BOGUS_LIMIT`` only counts unknown verbs and is not configurable);
* replies go through :func:`replies.normalize`, so aiosmtpd's own texts carry
  enhanced status codes like ours;
* EHLO advertises PIPELINING, SIZE, STARTTLS (until TLS is on), 8BITMIME,
  ENHANCEDSTATUSCODES, SMTPUTF8 and ``AUTH PLAIN LOGIN CRAM-MD5`` (AUTH only
  where policy lets passwords cross: over TLS, or when
  ``auth.allow_plaintext_without_tls`` says so);
* AUTH accepts mechanism names in any case and works after HELO too (exercise
  2 starts with HELO), using ``mailserver.auth`` for the check;
* STARTTLS is aiosmtpd's: after the handshake it starts a fresh session (RFC
  3207 4.2: HELO, AUTH and the envelope are forgotten) and discards any
  plaintext the client pipelined behind the command (the STARTTLS
  command-injection class); tests pin both;
* DATA is collected in one buffer (``data.py``), not aiosmtpd's object per line,
  so a message of short lines costs its size in memory, not thirty times that;
* on the ``submission`` listener (port 587) MAIL needs AUTH first (``530``)
  and the sender must be the user's own address (``delivery.py``);
* admission through the session registry, ``421`` at shutdown, on idle
  timeout and past the total session time limit, and DATA (receive + store)
  inside a registry transaction.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable
from typing import Any, cast

from aiosmtpd.smtp import MISSING, SMTP, TLSSetupException

from mailserver.auth import SaslError
from mailserver.listeners import ListenerContext
from mailserver.net.lines import LineTooLong, apply_backspaces, read_line
from mailserver.net.sessions import SessionHandle
from mailserver.services import Services
from mailserver.smtp import auth, burl, policy, rdns, replies
from mailserver.smtp.burl import CAPABILITY as BURL_CAPABILITY
from mailserver.smtp.data import CRLF, MessageBuffer, Overrun
from mailserver.smtp.delivery import DeliveryHandler
from mailserver.smtp.state import Connection, LabEnvelope, LabSession

log = logging.getLogger("mailserver.smtp")

#: Longest command line (RFC 5321 4.5.3.1.4 says 512, plus room for ESMTP parameters).
COMMAND_LINE_LIMIT = 1024
#: Longest AUTH response line we read (a PLAIN response of long credentials fits easily).
AUTH_LINE_LIMIT = 2048
#: A session may last at most this many idle timeouts in total, however busy it
#: keeps itself (300 s idle -> 50 minutes): a client trickling NOOPs or a slow
#: upload cannot hold a connection slot forever.
SESSION_LIFETIME_FACTOR = 10
#: The listener key that is the message submission port (RFC 6409).
SUBMISSION = "submission"

Command = Callable[[str | None], Awaitable[None]]

#: ``HELP <verb>`` answers.
HELP_SYNTAX: dict[str, str] = {
    "HELO": "HELO <hostname>",
    "EHLO": "EHLO <hostname>",
    "AUTH": "AUTH <mechanism> [<initial-response>]   mechanisms: PLAIN LOGIN CRAM-MD5",
    "MAIL": "MAIL FROM:<address> [SIZE=<bytes>] [BODY=7BIT|8BITMIME] [SMTPUTF8]",
    "RCPT": "RCPT TO:<address>",
    "DATA": "DATA   (end the message with a line holding only a dot)",
    "RSET": "RSET",
    "NOOP": "NOOP",
    "QUIT": "QUIT",
    "VRFY": "VRFY <address>",
    "EXPN": "EXPN <list>   (not supported)",
    "HELP": "HELP [<command>]",
    "STARTTLS": "STARTTLS",
}


class CommandTable(dict[str, Command]):
    """Verb -> handler; ``get`` of an unknown verb yields the "not recognized" handler.

    aiosmtpd's read loop looks commands up with ``.get``; answering unknown
    verbs from here keeps its non-configurable bogus-command limit out of play.
    It is also the one place that sees every command line (and nothing of
    DATA), so backspaces typed in telnet are applied here: aiosmtpd has split
    the line at its first space already, so the line is put back together,
    edited as a terminal would (``net.lines.apply_backspaces``) and split
    again before the handler is chosen.
    """

    def __init__(self, commands: dict[str, Command], unknown: Command) -> None:
        super().__init__(commands)
        self._unknown = unknown

    def get(self, verb: str, default: Any = None) -> Command:
        handler = super().get(verb, self._unknown)

        async def run(arg: str | None) -> None:
            line = verb if arg is None else f"{verb} {arg}"
            raw = line.encode("utf-8", "surrogateescape")
            edited = apply_backspaces(raw)
            if edited is raw:
                await handler(arg)
                return
            new_verb, _, new_arg = edited.decode("utf-8", "surrogateescape").strip().partition(" ")
            command = super(CommandTable, self).get(new_verb.upper(), self._unknown)
            await command(new_arg.strip() or None)

        return run


class CommandSizeLimits(dict[str, int]):
    """aiosmtpd's per-verb line limits, read with the raw verb of every line. A
    ``defaultdict`` would store each verb it is asked about, and verbs are what the
    client sends (``NOOPx<BS>`` is a valid NOOP, a new key every time): answer
    unknown verbs with the limit without storing them."""

    def __missing__(self, verb: str) -> int:
        return COMMAND_LINE_LIMIT


def capabilities(
    hostname: str, size_limit: int, starttls: bool, auth_allowed: bool, burl: bool = False
) -> list[str]:
    """The EHLO reply lines, without the ``250-``/``250 `` prefix."""
    lines = [hostname, "PIPELINING", f"SIZE {size_limit}"]
    if starttls:
        lines.append("STARTTLS")
    if auth_allowed:
        lines.append("AUTH " + " ".join(auth.MECHANISMS))
    if burl:
        lines.append(BURL_CAPABILITY)  # RFC 4468, submission only (burl.py)
    lines += ["8BITMIME", "ENHANCEDSTATUSCODES", "SMTPUTF8"]
    return lines


def writable(transport: asyncio.BaseTransport) -> asyncio.WriteTransport:
    """The transport as the writable stream it is. A cast, not an isinstance check:
    uvloop's transports are not subclasses of asyncio's transport classes."""
    return cast(asyncio.WriteTransport, transport)


class LabSMTP(SMTP):
    """One client connection."""

    # Annotations for attributes aiosmtpd sets without types mypy can use.
    session: LabSession | None
    envelope: LabEnvelope | None

    def __init__(
        self,
        context: ListenerContext,
        handler: DeliveryHandler,
        loop: asyncio.AbstractEventLoop,
        admitted: SessionHandle | None = None,
    ) -> None:
        """``admitted``: the slot an implicit-TLS listener took before the handshake."""
        config = context.services.config
        # Read by SMTP.__init__ to size the stream buffer, so set it first: the
        # longest DATA line we take is max_line_length, plus CRLF and a stuffed dot.
        self.line_length_limit = config.limits.max_line_length + 3
        super().__init__(
            handler,
            data_size_limit=config.limits.max_message_size,
            enable_SMTPUTF8=True,
            decode_data=False,
            hostname=config.hostname,
            ident=replies.GREETING_IDENT,
            # The STARTTLS hook: None until the STARTTLS issue lands.
            tls_context=context.starttls_context,
            timeout=config.timeouts.smtp,
            auth_exclude_mechanism=("LOGIN", "PLAIN"),  # ours are in auth.py
            # aiosmtpd's check before MAIL, RCPT and DATA: "530 5.7.0 Authentication required".
            auth_required=context.name == SUBMISSION,
            loop=loop,
        )
        self._context = context
        self._users = context.services.auth
        self._max_errors = config.limits.max_bad_commands
        self._allow_plaintext = config.auth.allow_plaintext_without_tls
        # Instance-level: aiosmtpd's class-level dict grows with every EHLO it sees.
        self.command_size_limit = COMMAND_LINE_LIMIT
        self.command_size_limits = CommandSizeLimits()
        self._errors = 0
        self._closing = False
        self._refused = False
        self._handle: SessionHandle | None = None
        self._admitted = admitted
        self._connection: Connection | None = None
        self._lifetime = config.timeouts.smtp * SESSION_LIFETIME_FACTOR
        self._lifetime_handle: asyncio.TimerHandle | None = None
        self._lifetime_extended = False
        commands: dict[str, Command] = {
            "HELO": self.smtp_HELO,
            "EHLO": self.smtp_EHLO,
            "AUTH": self.smtp_AUTH,
            "MAIL": self.smtp_MAIL,
            "RCPT": self.smtp_RCPT,
            "DATA": self.smtp_DATA,
            "RSET": self.smtp_RSET,
            "NOOP": self.smtp_NOOP,
            "QUIT": self.smtp_QUIT,
            "VRFY": self.smtp_VRFY,
            "EXPN": self.smtp_EXPN,
            "HELP": self.smtp_HELP,
        }
        if context.name == SUBMISSION:
            commands["BURL"] = self.smtp_BURL
        if self.tls_context is not None:
            commands["STARTTLS"] = self.smtp_STARTTLS
        self._smtp_methods = CommandTable(commands, self._unknown_command)

    # ------------------------------------------------------------ connection

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        if self._connection is None:  # not the re-entry after STARTTLS
            peer = transport.get_extra_info("peername") or ("unknown", 0)
            ip, port = str(peer[0]), int(peer[1])
            handle = self._context.sessions.admit(
                ip, self._on_shutdown, self._abort, self._admitted
            )
            if handle is None:
                self._refused = True
                writable(transport).write(replies.TOO_MANY_CONNECTIONS.encode() + b"\r\n")
                transport.close()
                return
            self._handle = handle
            self._connection = Connection(ip=ip, port=port)
            log.info("connection from %s on %s", self._connection.describe(), self._context.name)
            rdns.lookup(ip, self._set_client_name)
            self._lifetime_handle = self.loop.call_later(self._lifetime, self._lifetime_cb)
        upgraded = self._connection.tls is False and self.transport is not None
        super().connection_made(transport)
        ssl_object = transport.get_extra_info("ssl_object")
        self._connection.tls = ssl_object is not None
        if ssl_object is not None:
            cipher = ssl_object.cipher()
            log.info(
                "%s %s (%s, %s)",
                self._connection.describe(),
                "TLS established" if upgraded else "implicit TLS",
                ssl_object.version(),
                cipher[0] if cipher else "?",
            )

    def connection_lost(self, error: Exception | None) -> None:
        if self._refused:
            return
        if self._lifetime_handle is not None:
            self._lifetime_handle.cancel()
        try:
            super().connection_lost(error)
        finally:
            if self._handle is not None:
                self._handle.release()

    def data_received(self, data: bytes) -> None:
        # aiosmtpd only restarts the idle timer per command; a long DATA upload
        # is not idle, so any bytes count as activity.
        if self._refused:
            return
        self._reset_timeout()
        super().data_received(data)

    def _create_session(self) -> LabSession:
        assert self._connection is not None
        return LabSession(self.loop, self._connection)

    def _create_envelope(self) -> LabEnvelope:
        return LabEnvelope()

    def _set_client_name(self, name: str) -> None:
        if self._connection is not None:
            self._connection.name = name

    def _say_goodbye(self, reply: str) -> None:
        transport = self.transport
        if transport is not None and not transport.is_closing():
            writable(transport).write(reply.encode() + b"\r\n")
            transport.close()

    def _abort(self) -> None:
        if self.transport is not None:
            writable(self.transport).abort()

    def _on_shutdown(self) -> None:
        self._say_goodbye(replies.SHUTTING_DOWN)

    def _timeout_cb(self) -> None:
        if self.session is not None:
            log.info("%s idle timeout", self.session.connection.describe())
        self._say_goodbye(replies.IDLE_TIMEOUT)

    def _lifetime_cb(self) -> None:
        """The total-duration cap. A message being received or stored gets one more
        idle timeout to finish (so a healthy upload is not cut at the last byte),
        then the session ends regardless."""
        if self._handle is not None and self._handle.busy and not self._lifetime_extended:
            self._lifetime_extended = True
            self._lifetime_handle = self.loop.call_later(self._timeout_duration, self._lifetime_cb)
            return
        if self.session is not None:
            log.info("%s session time limit reached", self.session.connection.describe())
        self._say_goodbye(replies.SESSION_TOO_LONG)

    async def handle_exception(self, error: Exception) -> str:
        """A failed STARTTLS handshake (an old TLS version, a client that gave up) is a
        client's problem, logged in one line; aiosmtpd then closes the connection."""
        if isinstance(error, TLSSetupException):
            cause = error.__cause__
            reason = getattr(cause, "reason", None) or type(cause).__name__
            where = self.session.connection.describe() if self.session else "?"
            log.info("%s TLS handshake failed (%s)", where, reason)
            return replies.TLS_FAILED
        status: str = await super().handle_exception(error)
        return status

    # --------------------------------------------------------------- replies

    async def push(self, status: str | bytes) -> None:
        """Every reply passes here: normalized, sent, and 5xx ones counted."""
        text = status.decode("utf-8", "surrogateescape") if isinstance(status, bytes) else status
        text = replies.normalize(text)
        transport = self.transport
        if transport is None or transport.is_closing():
            return
        await super().push(text.encode("utf-8", "surrogateescape"))
        code = replies.reply_code(text)
        if code is not None and code >= 500:
            self._errors += 1
            if self._errors >= self._max_errors and not self._closing:
                self._closing = True
                assert self.session is not None
                log.info(
                    "%s disconnected after too many errors",
                    self.session.connection.describe(),
                )
                self._say_goodbye(replies.TOO_MANY_ERRORS)
                self._stop_reading()

    def _stop_reading(self) -> None:
        """Process nothing the client already pipelined after QUIT or a forced close."""
        if self._handler_coroutine is not None:
            self._handler_coroutine.cancel()

    def _getaddr(self, arg: str) -> tuple[str | None, str | None]:
        """Our path parser instead of the email package's: accepts trailing-dot and
        upper-case domains, drops source routes, keeps quoted local parts quoted."""
        if not arg:
            return "", ""
        parsed = policy.parse_path(arg)
        return (None, None) if parsed is None else parsed

    # -------------------------------------------------------------- commands

    async def _unknown_command(self, arg: str | None) -> None:
        await self.push(replies.UNKNOWN_COMMAND)

    async def smtp_EHLO(self, hostname: str | None) -> None:
        if not hostname:
            await self.push("501 5.5.4 Syntax: EHLO hostname")
            return
        assert self.session is not None
        self._set_rset_state()
        self.session.extended_smtp = True
        self.session.host_name = hostname
        lines = capabilities(
            self.hostname,
            self.data_size_limit or 0,
            starttls=self.tls_context is not None and not self.session.connection.tls,
            auth_allowed=self._auth_allowed(),
            burl=self._context.name == SUBMISSION and self._auth_allowed(),
        )
        for line in lines[:-1]:
            await self.push(f"250-{line}")
        await self.push(f"250 {lines[-1]}")

    def _auth_allowed(self) -> bool:
        assert self.session is not None
        return self._allow_plaintext or self.session.connection.tls

    async def smtp_AUTH(self, arg: str | None) -> None:
        session, envelope = self.session, self.envelope
        assert session is not None and envelope is not None
        if not session.host_name:
            await self.push(replies.NEED_HELO)
            return
        if session.user is not None:
            await self.push(replies.AUTH_ALREADY)
            return
        if envelope.mail_from:
            await self.push(replies.AUTH_IN_TRANSACTION)
            return
        words = (arg or "").split()
        if not 1 <= len(words) <= 2:
            await self.push(replies.AUTH_SYNTAX)
            return
        mechanism = words[0].upper()
        if mechanism not in auth.MECHANISMS:
            await self.push(replies.AUTH_UNKNOWN_MECHANISM)
            return
        if not self._auth_allowed():
            await self.push(replies.AUTH_NEEDS_TLS)
            return
        initial = words[1] if len(words) == 2 else None
        outcome = await auth.run_mechanism(
            mechanism, self, initial, self._users, session.connection.ip, self.hostname
        )
        where = session.connection.describe()
        if outcome.user is not None:
            session.user = outcome.user
            session.authenticated = True
            log.info("%s authenticated as %s (%s)", where, outcome.user, mechanism)
        elif outcome.login is not None:
            log.info("%s authentication failed for %r (%s)", where, outcome.login, mechanism)
        await self.push(outcome.reply)

    async def ask(self, challenge: str) -> str:
        """One SASL round trip (``auth.Exchange``)."""
        await self.push(replies.challenge(challenge))
        try:
            line = await read_line(self._reader, AUTH_LINE_LIMIT)
        except LineTooLong:
            raise SaslError("response too long") from None
        except EOFError:
            # The client hung up mid-exchange: end the session as aiosmtpd
            # does when the connection drops during a command.
            raise asyncio.CancelledError from None
        self._reset_timeout()
        text = apply_backspaces(line).decode("utf-8", "surrogateescape").strip()
        if text == "*":
            raise auth.Cancelled
        return text

    async def smtp_STARTTLS(self, arg: str | None) -> None:
        assert self.session is not None
        if self.session.connection.tls:
            await self.push("503 5.5.1 Error: TLS already active")
            return
        await super().smtp_STARTTLS(arg)
        if self._tls_protocol is not None and not self.session.connection.tls:
            # The connection was closed under the handshake (idle timeout, session
            # time limit, shutdown). asyncio reports that as a handshake that
            # succeeded and never tells this protocol the connection is gone, so
            # end the session here or its slot would be held for ever.
            log.info("%s TLS handshake abandoned", self.session.connection.describe())
            self.connection_lost(None)

    async def smtp_DATA(self, arg: str | None) -> None:
        if self._handle is None:  # pragma: no cover - admitted sessions always have one
            await self._data(arg)
            return
        # Receiving and storing must not be cut off by a graceful shutdown.
        with self._handle.transaction():
            await self._data(arg)

    async def _data(self, arg: str | None) -> None:
        """aiosmtpd's DATA with our receive loop (``data.py``): the same checks,
        replies and handler call, but the message is kept in one buffer."""
        if await self.check_helo_needed() or await self.check_auth_needed("DATA"):
            return
        assert self.envelope is not None
        if not self.envelope.rcpt_tos:
            await self.push("503 Error: need RCPT command")
            return
        if arg:
            await self.push("501 Syntax: DATA")
            return
        await self.push(replies.START_DATA)
        buffer = MessageBuffer(self.data_size_limit, self.line_length_limit)
        ended = False
        while not ended:
            if self.transport is None:
                return  # the client left before its final dot: nothing to store
            try:
                chunk = await self._reader.readuntil(CRLF)
            except asyncio.LimitOverrunError as exc:
                # Longer than the stream buffer: take it in pieces, keep none of it.
                chunk = await self._reader.read(exc.consumed)
            ended = buffer.add(chunk)
        if buffer.overrun is not None:
            self._set_post_data_state()
            too_long = buffer.overrun is Overrun.TOO_LONG
            await self.push(replies.LINE_TOO_LONG if too_long else replies.MESSAGE_TOO_BIG)
            return
        content = buffer.content()
        self.envelope.content = self.envelope.original_content = content
        status = await self._call_handler_hook("DATA")
        self._set_post_data_state()
        await self.push(replies.OK if status is MISSING else status)

    async def smtp_BURL(self, arg: str | None) -> None:
        if self._handle is None:  # pragma: no cover - admitted sessions always have one
            await burl.burl(self, arg)
            return
        with self._handle.transaction():
            await burl.burl(self, arg)

    @property
    def services(self) -> Services:
        return self._context.services

    async def deliver(self) -> Any:
        """The DATA hook on ``envelope.content``: the handler's reply, or MISSING."""
        return await self._call_handler_hook("DATA")

    def end_transaction(self) -> None:
        """After the message (delivered or refused): a new MAIL starts the next one."""
        self._set_post_data_state()

    async def smtp_RSET(self, arg: str | None) -> None:
        if arg:
            await self.push("501 5.5.4 Syntax: RSET")
            return
        self._set_rset_state()
        await self.push(replies.OK)

    async def smtp_NOOP(self, arg: str | None) -> None:
        await self.push(replies.OK)

    async def smtp_QUIT(self, arg: str | None) -> None:
        await self.push(replies.BYE)
        if self.transport is not None:
            self.transport.close()
        self._stop_reading()

    async def smtp_VRFY(self, arg: str | None) -> None:
        # Never say whether a user exists (address harvesting).
        await self.push(replies.VRFY_CANNOT if arg else replies.VRFY_SYNTAX)

    async def smtp_EXPN(self, arg: str | None) -> None:
        await self.push(replies.EXPN_NOT_SUPPORTED)

    async def smtp_HELP(self, arg: str | None) -> None:
        verbs = sorted(self._smtp_methods)
        if not arg:
            await self.push("214 2.0.0 Commands: " + " ".join(verbs))
        elif arg.strip().upper() in verbs:
            await self.push("214 2.0.0 Syntax: " + HELP_SYNTAX[arg.strip().upper()])
        else:
            await self.push(replies.HELP_UNKNOWN_TOPIC)
