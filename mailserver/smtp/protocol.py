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
* DATA (and RFC 3030 BDAT, with BINARYMIME) streams into a spool file as it
  arrives (``data.py`` undoes dot-stuffing in chunks, ``upload.py`` holds the
  file and the memory-budget share), not aiosmtpd's object per line: a message
  costs a few buffers whatever its size, and its lines may be any length;
* each command ends with a turn of the event loop for the other connections,
  and the idle timeout restarts only per command (DATA: per
  ``limits.min_data_rate``), so neither a flood nor a trickle holds the server;
* on the ``submission`` listener (port 587) MAIL needs AUTH first (``530``)
  and the sender must be the user's own address (``delivery.py``);
* admission through the session registry, ``421`` at shutdown, on idle
  timeout and past the total session time limit, and DATA (receive + store)
  inside a registry transaction.
"""

from __future__ import annotations

import asyncio
import errno
import logging
import re
from collections.abc import Awaitable, Callable
from typing import Any, cast

from aiosmtpd.smtp import MISSING, SMTP, TLSSetupException

from mailserver.auth import SaslError
from mailserver.listeners import ListenerContext
from mailserver.net.lines import LineTooLong, apply_backspaces, read_line, take_turn, unread
from mailserver.net.sessions import SessionHandle
from mailserver.services import Services
from mailserver.smtp import auth, burl, dsn, policy, rdns, replies
from mailserver.smtp.burl import CAPABILITY as BURL_CAPABILITY
from mailserver.smtp.data import DotDecoder
from mailserver.smtp.delivery import DeliveryHandler
from mailserver.smtp.fastinit import init_smtp
from mailserver.smtp.state import Connection, LabEnvelope, LabSession
from mailserver.smtp.upload import READ_CHUNK, Upload
from mailserver.storage.spool import HeaderTooLarge, spool_dir
from mailserver.transcripts import SessionRecorder

log = logging.getLogger("mailserver.smtp")

#: Longest command line (RFC 5321 4.5.3.1.4 says 512, plus room for ESMTP parameters).
COMMAND_LINE_LIMIT = 1024
#: Longest AUTH response line we read (a PLAIN response of long credentials fits easily).
AUTH_LINE_LIMIT = 2048
#: A session may last at most this many idle timeouts in total, however busy it
#: keeps itself (300 s idle -> 50 minutes): a client trickling NOOPs or a slow
#: upload cannot hold a connection slot forever.
SESSION_LIFETIME_FACTOR = 10
#: Quiet seconds after a lone "." LF (following bare-LF lines) before the session
#: ends with a reply that explains CRLF, instead of hanging until the idle timeout.
BARE_LF_GRACE = 4.0
#: ``BDAT`` arguments (RFC 3030 2): a chunk size of digits and an optional LAST.
_BDAT_ARGS = re.compile(r"(\d{1,18})(?:[ \t]+(LAST))?[ \t]*", re.IGNORECASE)
_BODY_BINARYMIME = re.compile(r"(?<![^ \t>])BODY=BINARYMIME(?![^ \t])", re.IGNORECASE)
#: The listener key that is the message submission port (RFC 6409).
SUBMISSION = "submission"

Command = Callable[[str | None], Awaitable[None]]

#: ``HELP <verb>`` answers.
HELP_SYNTAX: dict[str, str] = {
    "HELO": "HELO <hostname>",
    "EHLO": "EHLO <hostname>",
    "AUTH": "AUTH <mechanism> [<initial-response>]   mechanisms: PLAIN LOGIN CRAM-MD5",
    "MAIL": "MAIL FROM:<address> [SIZE=<bytes>] [BODY=7BIT|8BITMIME] [SMTPUTF8]"
    " [RET=FULL|HDRS] [ENVID=<id>]",
    "RCPT": "RCPT TO:<address> [NOTIFY=NEVER|SUCCESS,FAILURE,DELAY] [ORCPT=rfc822;<address>]",
    "DATA": "DATA   (end the message with a line holding only a dot)",
    "BDAT": "BDAT <size> [LAST]   (then exactly <size> octets of the message)",
    "RSET": "RSET",
    "NOOP": "NOOP",
    "QUIT": "QUIT",
    "VRFY": "VRFY <address>",
    "EXPN": "EXPN <list>   (not supported)",
    "HELP": "HELP [<command>]",
    "STARTTLS": "STARTTLS",
}


def parse_bdat(arg: str | None) -> tuple[int, bool] | None:
    """(chunk size, whether it is the LAST one), or None for bad syntax."""
    match = _BDAT_ARGS.fullmatch((arg or "").strip())
    if match is None:
        return None
    return int(match.group(1)), match.group(2) is not None


def strip_binarymime(arg: str) -> tuple[str, bool]:
    """MAIL's argument with ``BODY=BINARYMIME`` put as ``BODY=8BITMIME`` (the one
    aiosmtpd checks), and whether it was there."""
    replaced, count = _BODY_BINARYMIME.subn("BODY=8BITMIME", arg)
    return replaced, count > 0


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

    def __init__(
        self,
        commands: dict[str, Command],
        unknown: Command,
        on_command: Callable[[], None] | None = None,
        reader: Callable[[], asyncio.StreamReader | None] = lambda: None,
    ) -> None:
        super().__init__(commands)
        self._unknown = unknown
        #: The session's current stream (aiosmtpd replaces it at STARTTLS).
        self._reader = reader
        #: Told of every command line (the transcript's command count); optional.
        self._on_command = on_command or (lambda: None)

    def get(self, verb: str, default: Any = None) -> Command:
        self._on_command()  # aiosmtpd looks up every command line here, once
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

        return _then_yield(run, self._reader)


def _then_yield(handler: Command, reader: Callable[[], asyncio.StreamReader | None]) -> Command:
    """The handler, then one turn of the event loop for every other connection.

    A client that pipelines thousands of commands finds each next one already
    buffered, so without this its session would keep the loop to itself and a
    plain NOOP elsewhere would wait seconds. (Not after each reply: STARTTLS
    must switch to TLS right after its 220, before the client's handshake is read.)
    """

    async def run(arg: str | None) -> None:
        await handler(arg)
        stream = reader()
        if stream is not None:
            await take_turn(stream)

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
    lines += ["8BITMIME", "ENHANCEDSTATUSCODES", "SMTPUTF8", "DSN", "CHUNKING", "BINARYMIME"]
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
        # Read by SMTP.__init__ to size the stream buffer, so set it first. It bounds
        # command lines only: DATA and BDAT are read in chunks, any line length.
        self.line_length_limit = config.limits.max_line_length + 3
        # SMTP.__init__ without its per-connection reflection (fastinit.py).
        init_smtp(
            self,
            handler,
            data_size_limit=config.limits.max_message_size,
            hostname=config.hostname,
            ident=replies.GREETING_IDENT,
            # The STARTTLS hook: None until the STARTTLS issue lands.
            tls_context=context.starttls_context,
            timeout=config.timeouts.smtp,
            auth_exclude_mechanism=("LOGIN", "PLAIN"),  # ours are in auth.py
            # aiosmtpd's check before MAIL, RCPT and DATA: "530 5.7.0 Authentication required".
            auth_required=context.name == SUBMISSION,
            loop=loop,
            own_commands=True,  # the CommandTable below
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
        #: The transcript; None until the connection is admitted.
        self.recorder: SessionRecorder | None = None
        self._lifetime = config.timeouts.smtp * SESSION_LIFETIME_FACTOR
        self._lifetime_handle: asyncio.TimerHandle | None = None
        self._lifetime_extended = False
        self._min_data_rate = config.limits.min_data_rate
        #: Upload octets since the idle timer was last restarted.
        self._progress = 0
        #: ``loop.time()`` at which the session is idle (``_reset_timeout``).
        self._deadline = 0.0
        commands: dict[str, Command] = {
            "HELO": self.smtp_HELO,
            "EHLO": self.smtp_EHLO,
            "AUTH": self.smtp_AUTH,
            "MAIL": self.smtp_MAIL_dsn,
            "RCPT": self.smtp_RCPT_dsn,
            "DATA": self.smtp_DATA,
            "BDAT": self.smtp_BDAT,
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
        self._smtp_methods = CommandTable(
            commands, self._unknown_command, self._count_command, lambda: self._reader
        )

    def _count_command(self) -> None:
        if self.recorder is not None:
            self.recorder.count("commands")

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
            services = self._context.services
            self.recorder = SessionRecorder(
                services.events,
                services.config.transcripts,
                self._context.name,
                ip,
                port,
                tls=transport.get_extra_info("ssl_object") is not None,
                log=log,
                where=self._connection.describe(),
            )
            log.info("connection from %s on %s", self._connection.describe(), self._context.name)
            rdns.lookup(ip, self._set_client_name)
            self._lifetime_handle = self.loop.call_later(self._lifetime, self._lifetime_cb)
        upgraded = self._connection.tls is False and self.transport is not None
        super().connection_made(transport)
        ssl_object = transport.get_extra_info("ssl_object")
        self._connection.tls = ssl_object is not None
        if ssl_object is not None:
            cipher = ssl_object.cipher()
            if upgraded and self.recorder is not None:
                self.recorder.secured(f"({ssl_object.version()}, {cipher[0] if cipher else '?'})")
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
        # The session object lives on in reference cycles (aiosmtpd's bound
        # methods, its task's traceback) until the cycle collector runs; what it
        # holds must be small by then, so the upload's buffers go now.
        self._drop_upload()
        try:
            super().connection_lost(error)
        finally:
            if self.recorder is not None:
                self.recorder.close()
            if self._handle is not None:
                self._handle.release()

    def data_received(self, data: bytes) -> None:
        # aiosmtpd restarts the idle timer per complete command, so the timeout is
        # also the deadline for a whole command line: a client trickling a byte
        # at a time is idle. DATA and BDAT count progress by rate (_count_progress).
        if self._refused:
            return
        if self.recorder is not None:
            self.recorder.client(data)
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
            if self.recorder is not None:
                self.recorder.server(reply.encode() + b"\r\n")
            writable(transport).write(reply.encode() + b"\r\n")
            transport.close()

    def _abort(self) -> None:
        if self.transport is not None:
            writable(self.transport).abort()

    def _on_shutdown(self) -> None:
        self._say_goodbye(replies.SHUTTING_DOWN)

    def _reset_timeout(self, duration: float | None = None) -> None:
        """aiosmtpd's idle timer, re-armed lazily.

        aiosmtpd cancels the timer and starts a new one for every command (six
        per message with a connection per message). Here a reset only moves the
        deadline; the running timer, when it fires before it, re-arms itself for
        the rest. A shorter deadline than the armed one re-arms at once.
        """
        self._deadline = self.loop.time() + (duration or self._timeout_duration)
        handle = self._timeout_handle
        if handle is not None and not handle.cancelled() and handle.when() <= self._deadline:
            return
        if handle is not None:
            handle.cancel()
        self._timeout_handle = self.loop.call_at(self._deadline, self._idle_check)

    def _idle_check(self) -> None:
        if self.loop.time() < self._deadline:
            self._timeout_handle = self.loop.call_at(self._deadline, self._idle_check)
            return
        self._timeout_cb()

    def _timeout_cb(self) -> None:
        if self.session is not None:
            log.info("%s idle timeout", self.session.connection.describe())
        if self.recorder is not None:
            self.recorder.note("idle timeout")
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
        await self.push_lines([text])

    async def push_lines(self, lines: list[str]) -> None:
        """The lines of one (multi-line) reply, normalized, in one write.

        EHLO's eleven lines used to be eleven ``write`` system calls (aiosmtpd's
        ``push`` writes and drains per line): about a fifth of the event loop's
        samples with one connection per message. The last line's code counts.
        """
        transport = self.transport
        if transport is None or transport.is_closing():
            return
        texts = [replies.normalize(line) for line in lines]
        text = texts[-1]
        data = "".join(line + "\r\n" for line in texts).encode("utf-8", "surrogateescape")
        if self.recorder is not None:
            self.recorder.server(data)
        self._writer.write(data)
        await self._writer.drain()
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
        await self.push_lines([f"250-{line}" for line in lines[:-1]] + [f"250 {lines[-1]}"])

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
            if self._handle is not None:
                self._handle.logged_in()
            log.info("%s authenticated as %s (%s)", where, outcome.user, mechanism)
            if self.recorder is not None:
                self.recorder.login(outcome.user, mechanism)
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
        """aiosmtpd's DATA checks and replies, with the text streamed to a spool file
        (``data.py``, ``upload.py``) instead of collected in memory."""
        if await self.check_helo_needed() or await self.check_auth_needed("DATA"):
            return
        envelope = self.envelope
        assert envelope is not None
        if not envelope.rcpt_tos:
            await self.push("503 Error: need RCPT command")
            return
        if arg:
            await self.push("501 Syntax: DATA")
            return
        if envelope.binary or envelope.upload is not None:
            # RFC 3030 3: BODY=BINARYMIME, or chunks already sent, rule out DATA.
            await self.push(replies.DATA_AFTER_BDAT)
            return
        upload = self._start_upload()
        if upload is None:
            await self.push(replies.UPLOADS_BUSY)
            return
        with upload:
            await self.push(replies.START_DATA)
            decoder = DotDecoder(self.data_size_limit)
            self._progress = 0
            while True:
                chunk = await self._read_data(decoder)
                if not chunk:
                    return  # the client left before its final dot: nothing to store
                pieces, ended = decoder.feed(chunk)
                await upload.write(pieces)
                self._count_progress(len(chunk))
                if ended:
                    break
            unread(self._reader, decoder.rest)
            if decoder.overrun is not None:
                self._set_post_data_state()
                await self.push(replies.MESSAGE_TOO_BIG)
                return
            await self._deliver(upload)

    async def _read_data(self, decoder: DotDecoder) -> bytes:
        """The next octets of DATA (``b""`` once the client is gone).

        A student typing into ``nc`` without ``-C`` sends bare LFs, and their
        ``.`` LF does not end the message. Rather than wait in silence until
        the idle timeout, a lone ``.`` LF after bare-LF lines followed by
        :data:`BARE_LF_GRACE` seconds of quiet ends the session with a reply
        that says what to do.
        """
        if self.transport is None:
            return b""
        if not (decoder.bare_lf and decoder.lf_dot_lf):
            return await self._reader.read(READ_CHUNK)
        try:
            async with asyncio.timeout(BARE_LF_GRACE):
                return await self._reader.read(READ_CHUNK)
        except TimeoutError:
            if self.session is not None:
                log.info("%s DATA with bare LF line ends", self.session.connection.describe())
            self._say_goodbye(replies.BARE_LF)
            return b""

    def _start_upload(self) -> Upload | None:
        config = self._context.services.config
        return Upload.start(
            self._context.services.uploads,
            spool_dir(config.data_dir),
            config.limits.max_header_size,
        )

    def _count_progress(self, octets: int) -> None:
        """Upload octets restart the idle timer only at ``limits.min_data_rate``:
        a client trickling a byte a second is idle, however long it keeps at it."""
        self._progress += octets
        if self._progress >= self._min_data_rate * self._timeout_duration:
            self._progress = 0
            self._reset_timeout()

    async def _deliver(self, upload: Upload) -> None:
        """Make the spool file durable, hand it to delivery, answer for the message."""
        assert self.envelope is not None
        self._reset_timeout()  # storing is our time, not the client's
        try:
            spooled = await upload.finish()
        except HeaderTooLarge:
            reply = replies.header_too_big(self._context.services.config.limits.max_header_size)
        except OSError as exc:
            log.error("spooling a message failed: %s", exc.strerror)
            no_space = exc.errno in (errno.ENOSPC, errno.EDQUOT)
            reply = replies.INSUFFICIENT_STORAGE if no_space else replies.TEMPORARY_FAILURE
        else:
            try:
                if isinstance(spooled, bytes):  # a small message, held in memory
                    self.envelope.original_content = spooled
                else:
                    self.envelope.spooled = spooled
                status = await self._call_handler_hook("DATA")
                reply = replies.OK if status is MISSING else status
                if self.recorder is not None and str(reply).startswith("250"):
                    # With AUTH, this is the "sent by SMTP with AUTH" of the activity record.
                    self.recorder.count("messages")
            finally:
                if not isinstance(spooled, bytes):
                    spooled.discard()
        self._set_post_data_state()
        await self.push(reply)

    async def smtp_BDAT(self, arg: str | None) -> None:
        """RFC 3030 CHUNKING: ``BDAT <size> [LAST]``, octets taken as they are.

        A refused chunk is still read to its end (it is already on its way,
        RFC 3030 4.2), so the next command is found where the client put it.
        """
        parsed = parse_bdat(arg)
        if parsed is None:
            await self.push(replies.BDAT_SYNTAX)
            return
        size, last = parsed
        if self._handle is None:  # pragma: no cover - admitted sessions always have one
            await self._bdat(size, last)
            return
        with self._handle.transaction():
            await self._bdat(size, last)

    async def _bdat(self, size: int, last: bool) -> None:
        envelope = self.envelope
        assert envelope is not None
        refused = await self.check_helo_needed() or await self.check_auth_needed("BDAT")
        if not refused and not envelope.rcpt_tos:
            await self.push("503 5.5.1 Error: need RCPT command")
            refused = True
        if not refused and envelope.upload is None:
            envelope.upload = self._start_upload()
            if envelope.upload is None:
                await self.push(replies.UPLOADS_BUSY)
                refused = True
            self._progress = 0
        upload = None if refused else envelope.upload
        if not await self._take_chunk(size, upload):
            return  # the client left mid-chunk
        if upload is None:
            return
        if self.data_size_limit and upload.received > self.data_size_limit:
            self._set_rset_state()  # the transaction failed; later chunks find no RCPT
            await self.push(replies.MESSAGE_TOO_BIG)
            return
        if not last:
            await self.push(replies.chunk_received(size))
            return
        envelope.upload = None
        with upload:
            await self._deliver(upload)

    async def _take_chunk(self, size: int, upload: Upload | None) -> bool:
        """Read ``size`` octets into ``upload`` (or nowhere); False if the client left.
        Octets past the size limit are counted, not kept."""
        limit = self.data_size_limit
        remaining = size
        while remaining:
            chunk = await self._reader.read(min(remaining, READ_CHUNK))
            if not chunk:
                return False
            remaining -= len(chunk)
            self._count_progress(len(chunk))
            if upload is not None:
                if limit and upload.received + len(chunk) > limit:
                    upload.received += len(chunk)
                else:
                    await upload.write((chunk,))
        return True

    def _set_rset_state(self) -> None:
        """A new envelope (RSET, HELO/EHLO, STARTTLS): an unfinished BDAT message goes."""
        self._drop_upload()
        super()._set_rset_state()

    def _set_post_data_state(self) -> None:
        self._drop_upload()
        super()._set_post_data_state()

    def _drop_upload(self) -> None:
        envelope = getattr(self, "envelope", None)
        if isinstance(envelope, LabEnvelope) and envelope.upload is not None:
            envelope.upload.close()
            envelope.upload = None

    async def smtp_MAIL(self, arg: str | None) -> None:
        """aiosmtpd's MAIL, which knows BODY=7BIT and 8BITMIME only, taught
        RFC 3030's BODY=BINARYMIME (the message then comes with BDAT)."""
        binary = False
        if arg is not None:
            arg, binary = strip_binarymime(arg)
        await super().smtp_MAIL(arg)
        if binary and self.envelope is not None and self.envelope.mail_from is not None:
            self.envelope.binary = True

    async def smtp_MAIL_dsn(self, arg: str | None) -> None:
        """MAIL with RFC 3461's RET and ENVID taken off first (aiosmtpd refuses them)."""
        await self._with_dsn(arg, dsn.MAIL_KEYS, self.smtp_MAIL)

    async def smtp_RCPT_dsn(self, arg: str | None) -> None:
        """RCPT with RFC 3461's NOTIFY and ORCPT taken off first."""
        await self._with_dsn(arg, dsn.RCPT_KEYS, self.smtp_RCPT)

    async def _with_dsn(
        self, arg: str | None, keys: tuple[str, ...], command: Callable[[str | None], Any]
    ) -> None:
        session = self.session
        assert session is not None
        session.pending_dsn = dsn.Params()
        if arg and session.extended_smtp:
            try:
                arg, session.pending_dsn = dsn.take(arg, keys)
            except dsn.DsnSyntaxError as exc:
                await self.push(str(exc))
                return
        await command(arg)

    async def smtp_BURL(self, arg: str | None) -> None:
        if self._handle is None:  # pragma: no cover - admitted sessions always have one
            await burl.burl(self, arg)
            return
        with self._handle.transaction():
            await burl.burl(self, arg)

    @property
    def services(self) -> Services:
        return self._context.services

    def start_upload(self) -> Upload | None:
        """A spool upload for a message that does not come with DATA (BURL)."""
        return self._start_upload()

    async def deliver_upload(self, upload: Upload) -> None:
        """Deliver a finished upload and answer for it, as after DATA's final dot."""
        await self._deliver(upload)

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
