"""Cut one direction of a session's byte stream into transcript lines.

The wire is a stream, not lines: SMTP hands us whatever ``data_received``
got, IMAP literals carry CRLFs inside them, a POP3 ``RETR`` streams a whole
message. :class:`StreamLines` turns that into protocol lines (handed to a
callback that masks passwords and follows the dialogue) and message bodies,
which are shortened to their first lines plus one summary line. A long
server response (a FETCH of 50,000 messages, a LIST of 1,000 folders) is
shortened too: past ``limit`` lines the rest is only counted, with
``bytes.count`` and no Python step per line, until the response's last line
or the client's next command. Everything it holds is bounded: a partial line
is cut at :data:`MAX_LINE_OCTETS`, a body keeps only the lines it shows.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import Any

#: Longest line kept for display; the rest of a longer line is counted, not kept.
MAX_LINE_OCTETS = 2000
#: A line that ends by announcing an IMAP literal: ``{123}`` or ``{123+}``.
_LITERAL = re.compile(rb"\{(\d{1,12})(\+?)\}\Z")
#: What a terminal would act on rather than show (tabs are fine).
_CONTROL = re.compile(r"[\x00-\x08\x0a-\x1f\x7f]")

#: What a hidden stretch keeps of its end, to show the response's last line.
_TAIL = MAX_LINE_OCTETS + 2

#: ``(owner, protocol line without its line break)`` -> its display text (masked,
#: decoded). A function of the owner's class and the owner, not a bound method: a
#: bound method is an object per session (three of them were ~190 octets for each
#: of 10,000 idle sessions).
OnLine = Callable[[Any, bytes], str]
#: ``(owner, line)`` -> whether the line ends a response.
EndsResponse = Callable[[Any, bytes], bool]


def display(line: bytes) -> str:
    """A line as text for a page or a file: UTF-8 where it is, control characters visible."""
    text = line[:MAX_LINE_OCTETS].decode("utf-8", "replace")
    if _CONTROL.search(text):
        text = _CONTROL.sub(lambda m: f"\\x{ord(m.group()):02x}", text)
    return text + (" [...]" if len(line) > MAX_LINE_OCTETS else "")


class Body:
    """A message body (or literal) being shown: its first ``keep`` lines, then a count."""

    __slots__ = (
        "_masked",
        "_open_line",
        "_out",
        "_partial",
        "_prefix",
        "keep",
        "lines",
        "octets",
        "shown",
    )

    def __init__(self, keep: int, out: list[str], prefix: str, masked: str | None = None) -> None:
        self.keep = keep
        #: Where shown lines go (the session's pending lines), each after ``prefix``.
        self._out = out
        self._prefix = prefix
        #: Show this instead of the content (a password sent as a literal).
        self._masked = masked
        self.shown = 0
        self.lines = 0
        self.octets = 0
        self._partial = bytearray()
        #: The last octet so far was not a line feed: a last line without one follows.
        self._open_line = False

    def add(self, data: bytes) -> None:
        if not data:
            return
        self.octets += len(data)
        self._open_line = not data.endswith(b"\n")
        start, size = 0, len(data)
        while self.shown < self.keep and self._masked is None:
            end = data.find(b"\n", start)
            if end < 0:
                room = MAX_LINE_OCTETS - len(self._partial)
                if room > 0:
                    self._partial += data[start : start + room]
                return
            if self._partial:
                self._partial += data[start : end + 1]
                line = bytes(self._partial)
                self._partial.clear()
            else:
                line = data[start : end + 1]
            start = end + 1
            self._show(line)
            if start == size:
                return
        self.lines += data.count(b"\n", start)

    @property
    def hiding(self) -> bool:
        """Past the lines shown: what comes now is only counted."""
        return self.shown >= self.keep or self._masked is not None

    def _show(self, line: bytes) -> None:
        self.lines += 1
        self.shown += 1
        self._out.append(self._prefix + display(line.rstrip(b"\r\n")))

    def finish(self) -> int:
        """The body ended: show a last unterminated line, then what was left out.
        Returns how many lines it showed in all."""
        if self._masked is not None:
            self._out.append(self._prefix + self._masked)
            return 1
        if self._open_line:
            if self.shown < self.keep:
                self._show(bytes(self._partial))
                self._partial.clear()
            else:
                self.lines += 1
        hidden = self.lines - self.shown
        if hidden > 0:
            summary = f"[... {hidden} more lines, {self.octets} octets in all]"
            self._out.append(self._prefix + summary)
            return self.shown + 1
        return self.shown


class StreamLines:
    """One direction of one session.

    ``on_line(owner, line)`` turns each protocol line (without its line break)
    into its display text; every line shown goes to ``out`` after ``prefix``.
    ``literals`` makes it follow IMAP literals; ``sync_literals`` says the
    peer must wait for ``+`` before sending a ``{n}`` literal (the client
    side), so the literal only starts when :meth:`accept_literal` is called.
    """

    __slots__ = (
        "_dot",
        "_hidden_lines",
        "_hidden_octets",
        "_hiding",
        "_literal",
        "_literal_left",
        "_literals",
        "_on_line",
        "_out",
        "_owner",
        "_partial",
        "_partial_octets",
        "_prefix",
        "_sync",
        "_tail",
        "body_lines",
        "ends_response",
        "limit",
        "peer",
        "pending_literal",
        "secret_literals",
        "shown",
    )

    def __init__(
        self,
        owner: Any,
        on_line: OnLine,
        out: list[str],
        prefix: str,
        body_lines: int,
        literals: bool = False,
        sync_literals: bool = False,
        limit: int = 0,
    ) -> None:
        #: What ``on_line`` and ``ends_response`` are called with first (the rules).
        self._owner = owner
        self._on_line = on_line
        #: Where lines go (the session's pending lines, both directions in order),
        #: each after ``prefix`` (its direction, ``C`` or ``S``).
        self._out = out
        self._prefix = prefix
        #: The other direction, whose response ends when this one sends a line
        #: (the client's stream: a command ends the server's shortened response).
        self.peer: StreamLines | None = None
        self.body_lines = body_lines
        self._literals = literals
        self._sync = sync_literals
        #: A line begun and not yet ended (bytes, not a bytearray: most sessions
        #: never have one, and an empty bytes costs nothing per session).
        self._partial = b""
        self._partial_octets = 0
        self._dot: Body | None = None
        self._literal: Body | None = None
        self._literal_left = 0
        #: A synchronizing literal announced and not yet accepted by the server.
        self.pending_literal: int | None = None
        #: Set by the line callback: the literals of the current command are secret.
        self.secret_literals: str | None = None
        #: Lines of one response shown before the rest is only counted (0: all).
        self.limit = limit
        #: Lines shown since the last :meth:`end_response`.
        self.shown = 0
        #: Whether a line is a response's last (an IMAP tagged reply): it ends a hidden
        #: stretch and is shown. Without it a stretch ends at the client's next command.
        self.ends_response: EndsResponse | None = None
        self._hiding = False
        self._hidden_lines = 0
        self._hidden_octets = 0
        self._tail = b""

    # ------------------------------------------------------------ control

    def dot_body(self, keep: int | None = None) -> None:
        """A body ending with a line holding only ``.`` follows (SMTP DATA, POP3 RETR)."""
        keep = self.body_lines if keep is None else keep
        self._dot = Body(keep, self._out, self._prefix)

    def chunk_body(self, size: int) -> None:
        """The next ``size`` octets are message text counted by size (SMTP ``BDAT``),
        shown shortened like a body."""
        self._start_literal(size)

    def accept_literal(self) -> None:
        """The server said ``+``: the announced literal comes now."""
        if self.pending_literal is not None:
            size, self.pending_literal = self.pending_literal, None
            self._start_literal(size)

    def cancel_literal(self) -> None:
        """The server refused the command: the announced literal never comes."""
        self.pending_literal = None
        self.secret_literals = None

    def end_response(self) -> None:
        """The client sent a command: a hidden stretch ends with a line saying what it
        held, and the next response gets ``limit`` lines again."""
        if self._hiding:
            self._hiding = False
            unterminated = bool(self._tail) and not self._tail.endswith(b"\n")
            lines = self._hidden_lines + unterminated
            if self._hidden_octets:
                summary = f"[... {lines} more lines, {self._hidden_octets} octets]"
                self._out.append(self._prefix + summary)
            self._hidden_lines = self._hidden_octets = 0
            self._tail = b""
            # Where the stretch ended is a line start (a tagged reply, or the client's
            # turn); whatever literal or body it was in is over.
            self._partial = b""
            self._partial_octets = 0
            self._dot = self._literal = None
            self._literal_left = 0
        self.shown = 0

    # -------------------------------------------------------------- input

    def feed(self, data: bytes) -> None:
        i, n = 0, len(data)
        while i < n:
            if self._hiding:
                self._hide(data, i)
                return
            if self._literal is not None:
                take = min(self._literal_left, n - i)
                self._literal.add(data[i : i + take])
                i += take
                self._literal_left -= take
                if self._literal_left == 0:
                    self.shown += self._literal.finish()
                    self._literal = None
                continue
            if self._dot is not None and not self._partial:
                # A body up to its "." line in one search, shown and counted by the
                # body in one call, instead of a Python step per line (a 10 MB DATA
                # is 150,000 lines).
                dot = _dot_line(data, i)
                if dot != i:
                    end = data.rfind(b"\n", i) + 1 if dot < 0 else dot
                    if end > i:
                        self._dot.add(data[i:end])
                        i = end
                        continue
            if self.limit and self.shown >= self.limit and self._dot is None and not self._partial:
                self._hiding = True
                continue
            end = data.find(b"\n", i)
            if end < 0:
                self._keep_partial(data[i:])
                return
            if self._partial:
                self._keep_partial(data[i : end + 1])
                line = self._partial
                self._partial = b""
                self._partial_octets = 0
            else:
                line = data[i : end + 1]
            i = end + 1
            self._line(line)

    def _hide(self, data: bytes, start: int) -> None:
        """Count ``data[start:]`` without looking at its lines; show the response's
        last line if it ends here."""
        size = len(data) - start
        self._hidden_lines += data.count(b"\n", start)
        self._hidden_octets += size
        if size >= _TAIL:
            self._tail = data[-_TAIL:]
        else:
            self._tail = (self._tail + data[start:])[-_TAIL:]
        if self.ends_response is None or not data.endswith(b"\n"):
            return
        tail = self._tail
        begin = tail.rfind(b"\n", 0, len(tail) - 1) + 1
        if begin == 0 and self._hidden_octets > len(tail):
            return  # a last line longer than the tail kept: not a reply
        last = tail[begin:]
        if self.ends_response(self._owner, last):
            self._hidden_lines -= 1
            self._hidden_octets -= len(last)
            self._tail = tail[:begin]
            self.end_response()
            self._line(last)

    def _keep_partial(self, data: bytes) -> None:
        room = MAX_LINE_OCTETS + 2 - len(self._partial)
        if room > 0:
            self._partial += data[:room]
        self._partial_octets += len(data)

    def _line(self, line: bytes) -> None:
        if self._dot is not None:
            if line in (b".\r\n", b".\n"):
                self.shown += self._dot.finish()
                self._dot = None
                self._protocol_line(b".")
            else:
                self._dot.add(line)
            return
        text = line.rstrip(b"\r\n")
        self._protocol_line(text)
        if not self._literals:
            return
        match = _LITERAL.search(text)
        if match is None:
            self.secret_literals = None
            return
        size = int(match.group(1))
        if self._sync and not match.group(2):
            self.pending_literal = size
        else:
            self._start_literal(size)

    def _protocol_line(self, text: bytes) -> None:
        if self.peer is not None:
            self.peer.end_response()
        self.shown += 1
        self._out.append(self._prefix + self._on_line(self._owner, text))

    def _start_literal(self, size: int) -> None:
        if size == 0:
            return
        self._literal = Body(self.body_lines, self._out, self._prefix, self.secret_literals)
        self._literal_left = size


def _dot_line(data: bytes, start: int) -> int:
    """Where the line holding only ``.`` starts, looking from a line start; -1 if not here."""
    if data.startswith((b".\r\n", b".\n"), start):
        return start
    found = [k + 1 for k in (data.find(b"\n.\r\n", start), data.find(b"\n.\n", start)) if k >= 0]
    return min(found, default=-1)
