"""One IMAP connection: bounded command reading (literals included), dispatch, responses.

Connection state (state, user, selected view, bad-command count) lives here;
handlers in ``commands/`` do the work and report failures by raising, and
this module turns every failure into one response (``errors.py``). After
each command the selected view is refreshed so that changes made by other
sessions are reported before the tagged completion (RFC 3501 5.2, 7).
"""

from __future__ import annotations

import asyncio
import logging
import re
import ssl
from collections.abc import Iterable

from mailserver.auth import Authenticator, LoginBlocked
from mailserver.config import Config
from mailserver.events import EventBus
from mailserver.imap import abuse, notify
from mailserver.imap.abuse import BurstGuard
from mailserver.imap.dispatch import COMMANDS, CommandSpec
from mailserver.imap.errors import (
    INTERNAL_ERROR,
    ImapError,
    Response,
    login_blocked_response,
    storage_error_response,
)
from mailserver.imap.literals import (
    MAX_SPOOLED,
    BudgetExhausted,
    SpoolMarker,
    discard_all,
    literal_to_file,
    reserve_literal,
)
from mailserver.imap.notify import Notifier
from mailserver.imap.parser.commands import (
    Append,
    Command,
    InvalidCommand,
    MailboxCommand,
    parse_command,
)
from mailserver.imap.states import State
from mailserver.imap.view import SelectedView
from mailserver.listeners import ListenerContext
from mailserver.net.connection import describe_peer
from mailserver.net.deadlines import IdleTimeout
from mailserver.net.lines import LineTooLong, apply_backspaces, read_line, take_turn
from mailserver.net.sessions import SessionHandle
from mailserver.net.starttls import (
    TlsHandshakeFailed,
    describe_tls,
    handshake_limit,
    upgrade_to_tls,
)
from mailserver.storage import Mailbox, MailStore, StorageError
from mailserver.storage.spool import HeaderTooLarge, SpooledMessage
from mailserver.transcripts import SessionRecorder

log = logging.getLogger("mailserver.imap")

CRLF = b"\r\n"
CONTINUE_LITERAL = b"+ Ready for literal data\r\n"
IDLE_BYE = b"* BYE Autologout; idle for too long\r\n"
SHUTDOWN_BYE = b"* BYE Server shutting down\r\n"
SESSION_LIMIT_BYE = b"* BYE Session time limit reached, please reconnect\r\n"
TOO_MANY_BAD_BYE = b"* BYE Too many invalid commands\r\n"
SELECT_LOOP_BYE = b"* BYE Too many SELECTs of the same mailbox\r\n"
BASE_CAPABILITIES = (
    "IMAP4rev1",
    "LITERAL+",
    # RFC 3502, 3516, 4469 (parser/append.py, binary.py, catenate.py).
    "MULTIAPPEND",
    "BINARY",
    "CATENATE",
    "IMAP4rev2",  # RFC 9051, after ENABLE IMAP4rev2 (rev2.py)
    "NOTIFY",  # RFC 5465 (notify.py)
    "URLAUTH",  # RFC 4467 (commands/urlauth.py, mailserver/urlauth.py)
    "SASL-IR",
    "CONDSTORE",
    "QRESYNC",
    "QUOTA",
    "QUOTA=RES-STORAGE",
    "UTF8=ACCEPT",
    # RFC 2177, 4315, 6851, 3691, 2342, 2971, 5161, 3348, 4731, 5258, 5819, 6154.
    "IDLE",
    "UIDPLUS",
    "MOVE",
    "UNSELECT",
    "NAMESPACE",
    "ID",
    "ENABLE",
    "CHILDREN",
    "ESEARCH",
    "LIST-EXTENDED",
    "LIST-STATUS",
    "SPECIAL-USE",
    # RFC 5256, 5957, 5267 (mailserver/imap/commands/sort.py).
    "SORT",
    "SORT=DISPLAY",
    "THREAD=ORDEREDSUBJECT",
    "THREAD=REFERENCES",
    "THREAD=REFS",  # draft-ietf-morg-inthread, as Dovecot
    "ESORT",
    "WITHIN",  # RFC 5032 (parser/search_keys.py)
    "STATUS=SIZE",  # RFC 8438
    "SEARCHRES",  # RFC 5182 (view.saved_result, sequences.py)
    "PREVIEW",  # RFC 8970 (fetch_extensions.py)
    "PREVIEW=FUZZY",  # its drafts, as Dovecot
    "SNIPPET=FUZZY",
    "SAVEDATE",  # RFC 8514
    "CONTEXT=SEARCH",  # RFC 5267 (contexts.py)
    "CONTEXT=SORT",
    "OBJECTID",  # RFC 8474 (objectid.py)
    "CREATE-SPECIAL-USE",  # RFC 6154 3 (commands/special_use.py)
)
_LITERAL_AT_END = re.compile(rb"\{(\d+)(\+?)\}\Z")
#: RFC 3501 ``number``: a literal announced as longer cannot be skipped in step.
_MAX_LITERAL = 4_294_967_295
#: RFC 7888 4: the largest non-synchronizing literal a LITERAL- server accepts.
LITERAL_MINUS_MAX = 4096
LITERAL_OUT_OF_STEP_BYE = b"* BYE Literal too large to skip, closing\r\n"
_TAG = re.compile(rb"([^ \x00-\x1f\x7f(){%*\"\\+]+)")
_APPEND = re.compile(rb"[^ ]+ APPEND ", re.IGNORECASE)
#: Read size when throwing away a literal we refused.
_DISCARD_CHUNK = 65536


def imap_line_limit(config: Config) -> int:
    """Longest IMAP command line: ``limits.imap_max_line_length``, never below the general one."""
    return max(config.limits.imap_max_line_length, config.limits.max_line_length)


class ClientGone(Exception):
    """The peer vanished or stopped reading; end the session without another word."""


def _tag_of(line: bytes) -> str | None:
    """The tag of a refused command, for its tagged reply; None unless certain
    (a tag followed by a space, as every command with a literal has)."""
    match = _TAG.match(line)
    if match is None or line[match.end() : match.end() + 1] != b" ":
        return None
    return match.group(1).decode("ascii", "replace")


class CommandTooBig(Exception):
    """A literal or the whole command exceeded its limit; nothing of it is kept."""

    def __init__(self, tag: str | None, response: Response, *, fatal: bool = False) -> None:
        super().__init__(response.text)
        self.tag = tag
        self.response = response
        #: The client's bytes can no longer be told apart into commands: end the session.
        self.fatal = fatal


class ImapSession:
    """Serves one client from greeting to close."""

    # Slots, not a per-instance dict: ~1.3 KB less for each of 10,000 idle sessions.
    __slots__ = (
        "__weakref__",
        "_bad_rate",
        "_goodbye",
        "_idle_timeout",
        "_max_line",
        "_mid_response",
        "_select_loop",
        "_timeout",
        "_uploads",
        "_waiting_for_input",
        "auth",
        "bad_commands",
        "closing",
        "config",
        "enabled",
        "events",
        "exclusive",
        "handle",
        "literal_files",
        "mailbox",
        "notifier",
        "peer",
        "peer_ip",
        "pending_tls",
        "reader",
        "recorder",
        "secure",
        "spool_marker",
        "starttls_context",
        "state",
        "store",
        "user",
        "view",
        "writer",
    )

    def __init__(
        self,
        context: ListenerContext,
        reader: asyncio.StreamReader,
        writer: asyncio.StreamWriter,
        peer: str,
        port: int = 0,
    ) -> None:
        """``peer``: the client's address (the throttle's key); ``port``: its port."""
        self.config: Config = context.services.config
        self.store: MailStore = context.services.store
        self.auth: Authenticator = context.services.auth
        self.reader = reader
        self.writer = writer
        self.peer_ip = peer
        #: How log lines name the client: ``[ip]:port``.
        self.peer = describe_peer(peer, port)
        #: True on an implicit-TLS listener (and, later, after STARTTLS).
        self.secure = context.ssl_context is not None
        self.recorder = SessionRecorder(
            context.services.events,
            self.config.transcripts,
            context.name,
            peer,
            port,
            tls=self.secure,
            log=log,
            where=f"imap {self.peer}:",
        )
        self.starttls_context = context.starttls_context
        #: Set by STARTTLS: handshake right after its tagged OK went out.
        self.pending_tls: ssl.SSLContext | None = None
        self.state = State.NOT_AUTHENTICATED
        self.user: str | None = None
        self.mailbox: Mailbox | None = None
        self.view: SelectedView | None = None
        self.handle: SessionHandle | None = None
        self.bad_commands = 0
        bad_limit = self.config.limits.max_bad_commands * abuse.BAD_RATE_FACTOR
        self._bad_rate = BurstGuard(bad_limit, abuse.BAD_RATE_WINDOW)
        self._select_loop = BurstGuard(abuse.SELECT_LOOP_LIMIT, abuse.SELECT_LOOP_WINDOW)
        #: Extensions the client switched on (ENABLE, RFC 5161; or implicitly, RFC 7162 3.1).
        self.enabled: set[str] = set()
        self.closing = False
        self._waiting_for_input = False
        #: Set when the session must end after the current command, with this goodbye.
        self._goodbye: bytes | None = None
        self._mid_response = False
        self._max_line = imap_line_limit(self.config)
        self._timeout = self.config.timeouts.imap
        #: The idle timeout of each command read, on the process's deadline heap rather
        #: than a loop timer per read (``net/deadlines.py``): ~430 octets less per idle
        #: session, and less work per command.
        self._idle_timeout = IdleTimeout(context.sessions.deadlines, self._timeout)
        self.events: EventBus = context.services.events
        #: Held while a command runs; NOTIFY's pushes (``notify.py``) wait for it.
        self.exclusive = asyncio.Lock()
        self.notifier: Notifier | None = None
        self._uploads = context.services.uploads
        #: APPEND literals of the command being read, streamed to spool files.
        self.literal_files: list[SpooledMessage] = []
        #: What stands in the command for each of them (``literals.SpoolMarker``).
        self.spool_marker = SpoolMarker()

    # ------------------------------------------------------------- policy

    @property
    def plaintext_allowed(self) -> bool:
        """LOGIN and AUTH=PLAIN/LOGIN show the password to anyone listening (RFC 3501 6.2.3)."""
        return self.secure or self.config.auth.allow_plaintext_without_tls

    def capabilities(self) -> str:
        """What the client may use now: STARTTLS and the login mechanisms only
        before login, the one state where those commands are valid (RFC 9051 6.2)."""
        caps = list(BASE_CAPABILITIES)
        if self.state is not State.NOT_AUTHENTICATED:
            return " ".join(caps)
        # RFC 7888 5: a stranger may send non-synchronizing literals of 4096 octets only.
        caps[caps.index("LITERAL+")] = "LITERAL-"
        if self.starttls_context is not None and not self.secure:
            caps.append("STARTTLS")
        if self.plaintext_allowed:
            caps += ["AUTH=PLAIN", "AUTH=LOGIN"]
        else:
            caps.append("LOGINDISABLED")
        return " ".join(caps)

    # --------------------------------------------------------------- loop

    async def run(self) -> None:
        try:
            await self.send(
                f"* OK [CAPABILITY {self.capabilities()}] "
                f"{self.config.hostname} IMAP4rev1 ready\r\n".encode()
            )
            while not self.closing:
                try:
                    data = await self.read_command()
                except CommandTooBig as exc:
                    await self._complete(exc.tag, exc.response)
                    if exc.fatal:
                        await self.send(LITERAL_OUT_OF_STEP_BYE)
                        return
                    continue
                except TimeoutError:
                    log.info("imap %s: idle timeout (user %s)", self.peer, self.user or "-")
                    self.recorder.note("idle timeout")
                    await self.send(IDLE_BYE)
                    return
                try:
                    async with self.exclusive:
                        await self.execute(data)
                finally:
                    discard_all(self.literal_files)
                if self.notifier is not None:
                    self.notifier.after_command()
                # One turn for every other connection: a client that pipelines commands
                # finds the next one already buffered and would otherwise keep the loop.
                await take_turn(self.reader)
                if self._goodbye is not None and not self.closing:
                    await self.send(self._goodbye)
                    return
        except (ClientGone, EOFError, ConnectionError):
            return
        finally:
            discard_all(self.literal_files)  # an APPEND cut off mid-command
            self._idle_timeout.close()

    async def execute(self, data: bytes) -> None:
        self.recorder.count("commands")
        parsed = parse_command(data, utf8_names="UTF8=ACCEPT" in self.enabled)
        if isinstance(parsed, Append) and self.literal_files:
            parsed = self.spool_marker.attach(parsed, self.literal_files)
        spec = COMMANDS.get(parsed.name) if parsed.name else None
        if spec is not None and self.state not in spec.states:
            await self._complete(parsed.tag, Response("BAD", self._wrong_state_text(spec)))
            return
        if isinstance(parsed, InvalidCommand):
            await self._complete(parsed.tag, Response(parsed.status, parsed.reason, parsed.code))
            return
        assert spec is not None
        if self._selecting_in_a_loop(parsed):
            log.info("imap %s: SELECT loop on one mailbox, disconnecting", self.peer)
            await self.send(SELECT_LOOP_BYE)
            self.closing = True
            return
        if self.state is State.SELECTED and self.view is not None:
            # Work on current data. Where EXPUNGE responses are allowed, report
            # changes first so the command sees no vanished messages; during
            # FETCH/STORE/SEARCH they wait until after the command.
            if spec.allow_expunge and not spec.numbers_first:
                await self._report_changes(spec)
            else:
                try:
                    await self.view.sync()
                except StorageError as exc:
                    log.info("imap %s: refresh failed: %s", self.peer, exc.kind.value)
        response = await self._run_handler(spec, parsed)
        if self.state is State.SELECTED and not self.closing:
            await self._report_changes(spec)
        await self._complete(parsed.tag, response)
        if self.pending_tls is not None:
            context, self.pending_tls = self.pending_tls, None
            await self.start_tls(context)

    def _selecting_in_a_loop(self, command: Command) -> bool:
        if not isinstance(command, MailboxCommand) or command.name not in ("SELECT", "EXAMINE"):
            return False
        return self._select_loop.hit(command.mailbox)

    async def _report_changes(self, spec: CommandSpec) -> None:
        if self.view is None:
            return
        try:
            await self.send_untagged(await self.view.refresh(spec.allow_expunge))
        except StorageError as exc:
            log.info("imap %s: refresh failed: %s", self.peer, exc.kind.value)

    def _wrong_state_text(self, spec: CommandSpec) -> str:
        if State.NOT_AUTHENTICATED in spec.states:
            return "Already logged in"
        if self.state is State.NOT_AUTHENTICATED:
            return "Log in first"
        return "No mailbox selected"

    async def _run_handler(self, spec: CommandSpec, command: Command) -> Response:
        try:
            return await spec.handler(self, command)
        except ImapError as exc:
            return exc.response
        except StorageError as exc:
            return storage_error_response(exc)
        except LoginBlocked as exc:
            return login_blocked_response(exc)
        except (ClientGone, EOFError, ConnectionError):
            raise
        except TimeoutError:
            raise ClientGone from None
        except Exception:
            log.exception("imap %s: %s failed", self.peer, command.name)
            if self._mid_response:
                # Half a response is on the wire: nothing we send now would parse.
                raise ClientGone from None
            return INTERNAL_ERROR

    async def _complete(self, tag: str | None, response: Response) -> None:
        """Send the tagged completion; count BADs in a row towards the limit."""
        flooding = False
        if response.status == "BAD":
            self.bad_commands += 1
            # Valid commands in between reset the count above, not this rate.
            flooding = self._bad_rate.hit()
        else:
            self.bad_commands = 0
        await self.send(response.render(tag or "*"))
        if self.bad_commands >= self.config.limits.max_bad_commands or flooding:
            log.info("imap %s: too many invalid commands, disconnecting", self.peer)
            await self.send(TOO_MANY_BAD_BYE)
            self.closing = True

    # ---------------------------------------------------------------- input

    async def read_line(self) -> bytes:
        """The next line, within the idle timeout (``TimeoutError``) and the line limit,
        with telnet backspaces applied. Only command text comes through here
        (literals are read by :meth:`_read_exactly`), so message data is never edited."""
        self._waiting_for_input = True
        try:
            async with self._idle_timeout:
                line = apply_backspaces(await read_line(self.reader, self._max_line))
        finally:
            self._waiting_for_input = False
        self.recorder.client(line + CRLF)
        return line

    async def read_command(self) -> bytes:
        """A whole command: its line plus every literal and continuation line.

        A synchronizing literal is acknowledged with ``+`` only once we know
        it fits (before login: no longer than a command line), so a client
        never sends an oversized one; a non-synchronizing one (LITERAL+) that
        is too big is read and thrown away in chunks so the connection stays
        in step without buffering it. An APPEND's message literal goes to a
        spool file instead (:attr:`literal_files`), whatever its size.
        """
        discard_all(self.literal_files)  # left by a command refused half-way
        try:
            # Trailing blanks are invisible in a terminal; no grammar element ends in one.
            line = (await self.read_line()).rstrip(b" \t")
        except LineTooLong as exc:
            too_long = Response("BAD", "Command line too long", "TOOBIG")
            raise CommandTooBig(_tag_of(exc.prefix), too_long) from None
        tag = _tag_of(line)
        limits = self.config.limits
        is_append = _APPEND.match(line) is not None
        literal_limit = limits.max_message_size if is_append else limits.max_literal_size
        line_limit = self._max_line
        if self.state is State.NOT_AUTHENTICATED:
            # A user name or password never needs more; a stranger must not
            # make us buffer a message-sized literal per connection.
            line_limit = limits.max_line_length
            literal_limit = min(literal_limit, line_limit)
        total_limit = literal_limit + 16 * line_limit
        buffer = bytearray(line)
        while True:
            match = _LITERAL_AT_END.search(line)
            if match is None:
                return bytes(buffer)
            digits = match.group(1)
            size = int(digits) if len(digits) <= 20 else _MAX_LITERAL + 1
            synchronizing = not match.group(2)
            if size > literal_limit or len(buffer) + size > total_limit:
                if not synchronizing and size > _MAX_LITERAL:
                    # Its bytes would otherwise be read as commands (an injection route).
                    text = "Literal too large"
                    raise CommandTooBig(tag, Response("BAD", text, "TOOBIG"), fatal=True)
                if not synchronizing:
                    await self._discard(size)
                    await self._discard_rest_of_command()
                text = "Message too large" if is_append else "Literal too large"
                raise CommandTooBig(tag, Response("NO" if is_append else "BAD", text, "TOOBIG"))
            if not synchronizing and size > LITERAL_MINUS_MAX and self._literal_minus:
                # RFC 7888 4: BAD [TOOBIG]; the literal is read and dropped to stay in step.
                await self._discard(size)
                await self._discard_rest_of_command()
                text = f"Non-synchronizing literals are limited to {LITERAL_MINUS_MAX} octets"
                raise CommandTooBig(tag, Response("BAD", text, "TOOBIG"))
            if is_append and size > self.config.limits.max_line_length:
                # A message (or a CATENATE text part): to a file, and a marker literal
                # in the command in its place, which the APPEND parse maps back.
                # (The general line limit, not the longer IMAP one: a message above it
                # is held to the memory budget and the header limit like any upload.)
                await self._literal_to_file(tag, size, synchronizing)
                marker = self.spool_marker.literal(len(self.literal_files) - 1)
                del buffer[len(buffer) - len(match.group(0)) :]
                buffer += b"{%d}" % len(marker) + CRLF + marker
            else:
                if synchronizing:
                    await self.send(CONTINUE_LITERAL)
                buffer += CRLF + await self._read_exactly(size)
            try:
                line = (await self.read_line()).rstrip(b" \t")
            except LineTooLong:
                raise CommandTooBig(tag, Response("BAD", "Line too long", "TOOBIG")) from None
            buffer += line

    @property
    def _literal_minus(self) -> bool:
        """LITERAL- rather than LITERAL+ is in force (before login, see :meth:`capabilities`)."""
        return self.state is State.NOT_AUTHENTICATED

    async def _literal_to_file(self, tag: str | None, size: int, synchronizing: bool) -> None:
        """An APPEND message literal, streamed to a spool file (``literals.py``).

        Refused before the client sends it (no ``+``) when the user's quota
        cannot take it or the memory budget is spent; a non-synchronizing
        literal is then read and thrown away to stay in step.
        """
        refusal: Response | None = None
        reservation = None
        if len(self.literal_files) >= MAX_SPOOLED:
            refusal = Response("NO", "Too many messages in one APPEND", "LIMIT")
        elif not await self._quota_fits(size):
            refusal = Response("NO", "Quota exceeded", "OVERQUOTA")
        else:
            try:
                reservation = reserve_literal(self._uploads, self.config)
            except BudgetExhausted:
                text = "Too many messages being received, try again later"
                refusal = Response("NO", text, "UNAVAILABLE")
        if reservation is None:
            assert refusal is not None
            if not synchronizing:
                await self._discard(size)
                await self._discard_rest_of_command()
            raise CommandTooBig(tag, refusal)
        try:
            if synchronizing:
                await self.send(CONTINUE_LITERAL)
            spooled = await literal_to_file(
                self.reader, size, self.config, reservation, on_chunk=self.recorder.client
            )
        except HeaderTooLarge:
            await self._discard_rest_of_command()
            limit = self.config.limits.max_header_size
            text = f"Message header too large (limit {limit} octets)"
            raise CommandTooBig(tag, Response("NO", text, "LIMIT")) from None
        finally:
            reservation.release()
        self.literal_files.append(spooled)

    async def _quota_fits(self, octets: int) -> bool:
        """Whether the user's storage limit leaves room for ``octets`` more (store
        trouble is left to the APPEND itself to report)."""
        mailbox = self.mailbox
        limit = mailbox.quota_limit() if mailbox is not None else None
        if mailbox is None or limit is None:
            return True
        try:
            used, _ = await mailbox.usage()
        except StorageError:
            return True
        return used + octets <= limit

    async def _read_exactly(self, size: int) -> bytes:
        try:
            async with asyncio.timeout(self._timeout):
                data = await self.reader.readexactly(size)
        except asyncio.IncompleteReadError:
            raise EOFError from None
        self.recorder.client(data)
        return data

    async def _discard(self, size: int) -> None:
        while size > 0:
            chunk = min(size, _DISCARD_CHUNK)
            await self._read_exactly(chunk)
            size -= chunk

    async def _discard_rest_of_command(self) -> None:
        while True:
            try:
                line = await self.read_line()
            except LineTooLong:
                continue
            match = _LITERAL_AT_END.search(line)
            if match is None:
                return
            if not match.group(2):
                return  # a synchronizing literal we never acknowledge: the client stops
            await self._discard(int(match.group(1)))

    async def read_continuation(self) -> bytes:
        """A client response inside AUTHENTICATE."""
        try:
            return await self.read_line()
        except LineTooLong:
            raise ImapError("BAD", "Response too long") from None
        except TimeoutError:
            await self.send(IDLE_BYE)
            raise ClientGone from None

    # ------------------------------------------------------------------ TLS

    async def start_tls(self, context: ssl.SSLContext) -> None:
        """Server side of the handshake after STARTTLS's tagged OK (RFC 3501 6.2.1).

        :func:`upgrade_to_tls` hands back a fresh reader, so commands the
        client pipelined behind STARTTLS are never executed.
        """
        try:
            self.reader, self.writer = await upgrade_to_tls(
                self.writer,
                context,
                self._max_line,
                handshake_timeout=handshake_limit(self._timeout),
            )
        except TlsHandshakeFailed as exc:
            log.info("imap %s: TLS handshake failed (%s)", self.peer, exc.reason)
            raise ClientGone from None
        self.secure = True
        description = describe_tls(self.writer)
        log.info("imap %s: TLS established (%s)", self.peer, description)
        self.recorder.secured(description)

    # --------------------------------------------------------------- output

    def write(self, data: bytes) -> None:
        self.recorder.server(data)
        self.writer.write(data)

    async def drain(self) -> None:
        """Wait until the client took our data; one that stops reading counts as idle."""
        try:
            async with asyncio.timeout(self._timeout):
                await self.writer.drain()
        except TimeoutError:
            raise ClientGone from None

    async def send(self, data: bytes) -> None:
        self.recorder.server(data)
        self.writer.write(data)
        await self.drain()

    async def send_untagged(self, lines: Iterable[bytes]) -> None:
        data = b"".join(lines)
        if data:
            await self.send(data)

    def begin_response(self) -> None:
        """From here until :meth:`end_response`, a failure must close the connection."""
        self._mid_response = True

    def end_response(self) -> None:
        self._mid_response = False

    # ------------------------------------------------------------ lifecycle

    def unselect(self) -> None:
        if self.view is not None:
            self.view.close()
            self.view = None
        if self.state is State.SELECTED:
            self.state = State.AUTHENTICATED

    def on_shutdown(self) -> None:
        """Called by the session registry at server shutdown (never mid-APPEND)."""
        self._end_session(SHUTDOWN_BYE)

    def expire(self) -> None:
        """The total session time is up: say so and close, as at shutdown."""
        self._end_session(SESSION_LIMIT_BYE)

    def _end_session(self, goodbye: bytes) -> None:
        self._goodbye = goodbye
        if self._waiting_for_input and not self.closing:
            self.closing = True
            self.recorder.server(goodbye)
            self.writer.write(goodbye)
            self.writer.close()

    def finish(self) -> None:
        notify.stop(self)
        self.unselect()
        self.mailbox = None
