"""One POP3 connection: bounded reads, the state check, dispatch and the replies.

Connection state (state, pending USER name, bad-command count) lives here;
transaction state is the :class:`~mailserver.pop3.maildrop.Maildrop` created
at login and dropped with the session. Handlers in ``commands/`` do the work
and report failures by raising; this module turns every failure into one
reply (``errors.py``) so no handler has to think about the wire.
"""

from __future__ import annotations

import asyncio
import logging
import os
import secrets
import ssl
import time
from collections.abc import AsyncIterable, Iterable

from mailserver.auth import LoginBlocked
from mailserver.config import Config
from mailserver.listeners import ListenerContext
from mailserver.net.connection import describe_peer
from mailserver.net.lines import LineTooLong, apply_backspaces, read_line, take_turn
from mailserver.net.sessions import SessionHandle
from mailserver.net.starttls import (
    TlsHandshakeFailed,
    describe_tls,
    handshake_limit,
    upgrade_to_tls,
)
from mailserver.pop3.commands import COMMANDS, SYNTAXES, Handler
from mailserver.pop3.commands.retr import mark_retrieved_seen
from mailserver.pop3.dotstuff import DotStuffer, dot_stuffed_chunks, stuff_line
from mailserver.pop3.errors import (
    INTERNAL_ERROR,
    Pop3Error,
    login_blocked_reply,
    storage_error_reply,
)
from mailserver.pop3.locks import MaildropLocks
from mailserver.pop3.maildrop import Maildrop
from mailserver.pop3.parser import Command, InvalidCommand, parse_command
from mailserver.pop3.states import State
from mailserver.services import Services
from mailserver.storage import StorageError
from mailserver.transcripts import SessionRecorder

log = logging.getLogger("mailserver.pop3")

CRLF = b"\r\n"
IDLE_REPLY = "-ERR [SYS/TEMP] autologout: idle for too long"
SHUTDOWN_REPLY = "-ERR [SYS/TEMP] server shutting down, please reconnect later"
SESSION_LIMIT_REPLY = "-ERR [SYS/TEMP] session time limit reached, please reconnect"
TOO_MANY_BAD = "-ERR too many bad commands, closing connection"
NOT_LOGGED_IN = "-ERR not logged in: authenticate first with USER/PASS, APOP or AUTH"
ALREADY_LOGGED_IN = "-ERR already logged in"
#: Lines of a listing (LIST, UIDL, CAPA) shown in the transcript before it is shortened.
LISTING_LINES = 50
#: Octets of a response gathered before one write to the socket.
WRITE_BATCH = 64 * 1024


def make_banner(hostname: str) -> str:
    """The APOP timestamp of RFC 1939 section 7: unique per connection, ``<pid.n.time@host>``."""
    return f"<{os.getpid()}.{secrets.randbelow(10**9)}.{int(time.time())}@{hostname}>"


class ClientGone(Exception):
    """The peer vanished or stopped reading; the session ends without another reply."""


class Pop3Session:
    """Serves one client from greeting to close."""

    def __init__(
        self,
        context: ListenerContext,
        locks: MaildropLocks,
        reader: asyncio.StreamReader,
        writer: asyncio.StreamWriter,
        peer: str,
        port: int = 0,
    ) -> None:
        """``peer``: the client's address (the throttle's key); ``port``: its port."""
        self.services: Services = context.services
        self.config: Config = context.services.config
        self.locks = locks
        self.reader = reader
        self.writer = writer
        self.peer_ip = peer
        #: How log lines name the client: ``[ip]:port``.
        self.peer = describe_peer(peer, port)
        #: True on an implicit-TLS listener and after a successful STLS.
        self.secure = context.ssl_context is not None
        self.recorder = SessionRecorder(
            context.services.events,
            self.config.transcripts,
            context.name,
            peer,
            port,
            tls=self.secure,
            log=log,
            where=f"pop3 {self.peer}:",
        )
        #: Server context for STLS (RFC 2595); offered while set and not yet secure.
        self.starttls_context = context.starttls_context
        self.banner = make_banner(self.config.hostname)
        self.state = State.AUTHORIZATION
        #: Canonical-or-typed name from USER, waiting for PASS.
        self.pending_user: str | None = None
        self.user: str | None = None
        #: The user whose maildrop lock this session holds, released in :meth:`finish`.
        self.locked_user: str | None = None
        self.maildrop: Maildrop | None = None
        self.handle: SessionHandle | None = None
        self.bad_commands = 0
        self.closing = False
        self._waiting_for_input = False
        self._handshaking = False
        #: Set when the session must end after the current command, with this goodbye.
        self._goodbye: str | None = None
        self._mid_response = False
        self._max_line = self.config.limits.max_line_length
        self._timeout = self.config.timeouts.pop3

    # ------------------------------------------------------------- policy

    @property
    def stls_available(self) -> bool:
        """STLS is offered once per connection, and never on an implicit-TLS one."""
        return self.starttls_context is not None and not self.secure

    @property
    def plaintext_allowed(self) -> bool:
        """USER/PASS and AUTH PLAIN/LOGIN carry the password readable (RFC 2595 2.1)."""
        return self.secure or self.config.auth.allow_plaintext_without_tls

    # --------------------------------------------------------------- loop

    async def run(self) -> None:
        if self.secure:
            log.info("pop3 %s: implicit TLS (%s)", self.peer, describe_tls(self.writer))
        try:
            await self.reply(f"+OK POP3 server ready {self.banner}")
            while not self.closing:
                try:
                    line = await self.read_line()
                except LineTooLong:
                    await self._bad_command("-ERR line too long")
                    continue
                except TimeoutError:
                    log.info("pop3 %s: idle timeout (user %s)", self.peer, self.user or "-")
                    self.recorder.note("idle timeout")
                    await self.reply(IDLE_REPLY)
                    return
                await self.execute(line)
                # One turn for every other connection: a client that pipelines commands
                # finds the next one already buffered and would otherwise keep the loop.
                await take_turn(self.reader)
                if self._goodbye is not None and not self.closing:
                    await self.reply(self._goodbye)
                    return
        except (ClientGone, EOFError, OSError):
            # The peer went away (reset, broken pipe, TLS failure): nothing left to say.
            return
        finally:
            # Without QUIT nothing is expunged, but what was retrieved is still \Seen.
            await mark_retrieved_seen(self)

    async def execute(self, line: bytes) -> None:
        self.recorder.count("commands")
        parsed = parse_command(line, SYNTAXES)
        spec = COMMANDS.get(parsed.verb) if parsed.verb else None
        if spec is not None and self.state not in spec.states:
            await self.reply(ALREADY_LOGGED_IN if self.maildrop else NOT_LOGGED_IN)
            return
        if isinstance(parsed, InvalidCommand):
            await self._bad_command(parsed.reply)
            return
        assert spec is not None
        await self._run_handler(spec.handler, parsed)

    async def _run_handler(self, handler: Handler, command: Command) -> None:
        try:
            await handler(self, command)
        except Pop3Error as exc:
            if exc.bad:
                await self._bad_command(exc.reply)
            else:
                await self.reply(exc.reply)
        except StorageError as exc:
            await self.reply(storage_error_reply(exc))
        except LoginBlocked as exc:
            await self.reply(login_blocked_reply(exc))
        except (ClientGone, EOFError, ConnectionError):
            raise
        except TimeoutError:
            raise ClientGone from None
        except Exception:
            log.exception("pop3 %s: %s failed", self.peer, command.verb)
            if self._mid_response:
                # Half a multi-line response is on the wire: nothing we send now parses.
                raise ClientGone from None
            await self.reply(INTERNAL_ERROR)

    async def _bad_command(self, reply: str) -> None:
        """Answer a bad command; the ``limits.max_bad_commands``-th is answered, then
        the session ends with a goodbye (the same count as SMTP and IMAP)."""
        self.bad_commands += 1
        await self.reply(reply)
        if self.bad_commands >= self.config.limits.max_bad_commands:
            log.info("pop3 %s: too many bad commands, disconnecting", self.peer)
            await self.reply(TOO_MANY_BAD)
            self.closing = True

    # ---------------------------------------------------------------- input

    async def read_line(self) -> bytes:
        """The next line, within the idle timeout (``TimeoutError``) and the line limit,
        with telnet backspaces applied: every POP3 line from a client is a command
        or an AUTH answer, never message data."""
        self._waiting_for_input = True
        try:
            async with asyncio.timeout(self._timeout):
                line = apply_backspaces(await read_line(self.reader, self._max_line))
        finally:
            self._waiting_for_input = False
        self.recorder.client(line + CRLF)
        return line

    async def read_continuation(self) -> str:
        """A client response inside AUTH; an idle timeout ends the session like any other."""
        try:
            line = await self.read_line()
        except LineTooLong:
            raise Pop3Error("-ERR [AUTH] response too long", bad=True) from None
        except TimeoutError:
            await self.reply(IDLE_REPLY)
            raise ClientGone from None
        return line.decode("utf-8", "replace")

    # ------------------------------------------------------------------ TLS

    async def start_tls(self, context: ssl.SSLContext) -> None:
        """Run the server side of the TLS handshake on this connection (after ``+OK``).

        :func:`upgrade_to_tls` hands back a fresh reader, so plaintext the
        client pipelined after STLS is never executed.
        """
        await self.drain()
        self._handshaking = True
        try:
            self.reader, self.writer = await upgrade_to_tls(
                self.writer,
                context,
                self._max_line,
                handshake_timeout=handshake_limit(self._timeout),
            )
        except TlsHandshakeFailed as exc:
            log.info("pop3 %s: TLS handshake failed (%s)", self.peer, exc.reason)
            raise ClientGone from None
        finally:
            self._handshaking = False
        self.secure = True
        description = describe_tls(self.writer)
        log.info("pop3 %s: TLS established (%s)", self.peer, description)
        self.recorder.secured(description)

    # --------------------------------------------------------------- output

    async def reply(self, line: str) -> None:
        data = line.encode("utf-8") + CRLF
        self.recorder.server(data)
        self.writer.write(data)
        await self.drain()

    async def drain(self) -> None:
        """Wait until the client took our data; one that stops reading counts as idle."""
        try:
            async with asyncio.timeout(self._timeout):
                await self.writer.drain()
        except TimeoutError:
            raise ClientGone from None

    async def send_lines(self, first: str, lines: Iterable[str]) -> None:
        """A multi-line response: status line, stuffed lines, terminating ``.``."""
        body = b"".join(stuff_line(line).encode("utf-8") + CRLF for line in lines) + b".\r\n"
        self.recorder.server(first.encode("utf-8") + CRLF)
        self.recorder.server_body(keep=LISTING_LINES)
        self.recorder.server(body)
        self.writer.write(first.encode("utf-8") + CRLF + body)
        await self.drain()

    async def send_message(self, first: str, data: bytes | memoryview) -> None:
        """Stream message text dot-stuffed, chunk by chunk, draining in between."""
        self._mid_response = True
        self.recorder.server(first.encode("utf-8") + CRLF)
        self.recorder.server_body()
        self.writer.write(first.encode("utf-8") + CRLF)
        for chunk in dot_stuffed_chunks(data):
            self.recorder.server(chunk)
            self.writer.write(chunk)
            await self.drain()
        self._mid_response = False

    async def send_stream(self, first: str, chunks: AsyncIterable[bytes]) -> None:
        """:meth:`send_message` for a message read from its file chunk by chunk:
        one chunk in memory per download, whatever the message size.

        Pieces are gathered up to :data:`WRITE_BATCH` octets before a write, so a
        small message goes out as one ``send`` (status line, text and terminator)
        with one drain, not three of each.
        """
        self._mid_response = True
        head = first.encode("utf-8") + CRLF
        self.recorder.server(head)
        self.recorder.server_body()
        pending = [head]
        size = len(head)
        stuffer = DotStuffer()
        async for chunk in chunks:
            stuffed = stuffer.feed(chunk)
            self.recorder.server(stuffed)
            pending.append(stuffed)
            size += len(stuffed)
            if size >= WRITE_BATCH:
                self._write_pieces(pending)
                pending, size = [], 0
                await self.drain()
        tail = stuffer.end()
        self.recorder.server(tail)
        pending.append(tail)
        self._write_pieces(pending)
        await self.drain()
        self._mid_response = False

    def _write_pieces(self, pieces: list[bytes]) -> None:
        """One write of small pieces joined; a big piece is written as it is (no copy)."""
        if len(pieces) == 1:
            self.writer.write(pieces[0])
        elif sum(map(len, pieces)) <= WRITE_BATCH:
            self.writer.write(b"".join(pieces))
        else:
            for piece in pieces:
                self.writer.write(piece)

    # ------------------------------------------------------------ lifecycle

    def on_shutdown(self) -> None:
        """Called by the session registry at server shutdown (never mid-UPDATE)."""
        self._end_session(SHUTDOWN_REPLY)

    def expire(self) -> None:
        """The total session time is up: say so and close, as at shutdown."""
        self._end_session(SESSION_LIMIT_REPLY)

    def _end_session(self, goodbye: str) -> None:
        self._goodbye = goodbye
        if self._handshaking:
            # No reply can be sent mid-handshake; dropping the connection ends it cleanly.
            self.closing = True
            self.writer.transport.abort()
            return
        if self._waiting_for_input and not self.closing:
            self.closing = True
            self.recorder.server(goodbye.encode("ascii") + CRLF)
            self.writer.write(goodbye.encode("ascii") + CRLF)
            self.writer.close()

    def finish(self) -> None:
        """Release the maildrop lock; nothing marked deleted is touched unless UPDATE ran."""
        if self.locked_user is not None:
            self.locks.release(self.locked_user)
            self.locked_user = None
        self.maildrop = None
