"""What each protocol's transcript must know about its dialogue.

Three things, all about lines the recorder sees anyway: which client lines
carry a password or a SASL response (masked, or with ``passwords: show``
decoded beside them), when a message body starts (SMTP after ``354``; POP3
and IMAP bodies are announced by the session or by a literal), and when an
IMAP synchronizing literal is accepted or refused. One small class per
protocol; the recorder stays protocol-neutral.
"""

from __future__ import annotations

import base64
import binascii
import re

from mailserver.transcripts.lines import StreamLines, display

MASK = "********"


class Rules:
    """The protocol-neutral part: masking a secret, remembering a SASL exchange."""

    __slots__ = ("client", "sasl_response", "show")

    #: Whether :meth:`ends_response` can tell a response's last line (IMAP's tagged
    #: reply); elsewhere a shortened response ends at the client's next command.
    knows_response_end = False

    def __init__(self, show_passwords: bool) -> None:
        self.show = show_passwords
        #: The next client line answers a SASL challenge.
        self.sasl_response = False
        self.client: StreamLines | None = None

    def secret(self, text: str, base64_encoded: bool) -> str:
        """``text`` as the transcript shows it: masked, or shown with its decoded form."""
        if text == "*":  # a SASL cancel holds no secret
            return text
        if not self.show:
            return MASK
        decoded = decode_base64(text) if base64_encoded else None
        return text if decoded is None else f"{text}   [base64 of: {decoded}]"

    def client_line(self, line: bytes) -> str:
        text = display(line)
        if self.sasl_response:
            self.sasl_response = False
            return self.secret(text, base64_encoded=True)
        return self.client_command(text)

    def client_command(self, text: str) -> str:
        return text

    def server_line(self, line: bytes) -> str:
        return display(line)

    def ends_response(self, line: bytes) -> bool:
        """Whether this server line ends the response to the client's last command."""
        return False


def decode_base64(text: str) -> str | None:
    """The text base64 stands for, with NULs (the SASL PLAIN separator) made visible."""
    try:
        raw = base64.b64decode(text.strip(), validate=True)
    except (binascii.Error, ValueError):
        return None
    if not raw:
        return None
    decoded = raw.decode("utf-8", "replace")
    return "".join("\\0" if c == "\0" else c if c.isprintable() else "?" for c in decoded)


_AUTH = re.compile(r"(?i)(AUTH(?:ENTICATE)?\s+\S+\s+)(\S+)\s*\Z")


def _mask_auth(rules: Rules, text: str, prefix: str = "") -> str | None:
    """``AUTH <mechanism> <initial response>`` with the response masked."""
    match = _AUTH.match(text, len(prefix))
    if match is None:
        return None
    return prefix + match.group(1) + rules.secret(match.group(2), base64_encoded=True)


_BDAT = re.compile(r"(?i)BDAT\s+(\d{1,18})\b")


class SmtpRules(Rules):
    """AUTH initial responses and ``334`` answers are secret; ``354`` starts the body,
    and so does ``BDAT <size>`` (RFC 3030: exactly that many octets follow the line)."""

    __slots__ = ()

    def client_command(self, text: str) -> str:
        bdat = _BDAT.match(text)
        if bdat is not None and self.client is not None:
            self.client.chunk_body(int(bdat.group(1)))
            return text
        return _mask_auth(self, text) or text

    def server_line(self, line: bytes) -> str:
        text = display(line)
        if line.startswith(b"354") and self.client is not None:
            self.client.dot_body()
        if line.startswith(b"334"):
            self.sasl_response = True
            decoded = decode_base64(text[4:]) if self.show else None
            if decoded is not None:
                return f"{text}   [base64 of: {decoded}]"
        return text


_PASS = re.compile(r"(?i)(PASS )(.*)\Z")


class Pop3Rules(Rules):
    """``PASS``, AUTH initial responses and answers to ``+`` challenges are secret."""

    __slots__ = ()

    def client_command(self, text: str) -> str:
        match = _PASS.match(text)
        if match is not None:
            return match.group(1) + self.secret(match.group(2), base64_encoded=False)
        return _mask_auth(self, text) or text

    def server_line(self, line: bytes) -> str:
        text = display(line)
        if line == b"+" or line.startswith(b"+ "):
            self.sasl_response = True
            decoded = decode_base64(text[2:]) if self.show else None
            if decoded is not None:
                return f"{text}   [base64 of: {decoded}]"
        return text


_TAG = re.compile(r"(\S+ )")
_LOGIN = re.compile(r'(?i)(\S+ LOGIN (?:"(?:[^"\\]|\\.)*"|\S+) ?)(.*)\Z')
_ENDS_WITH_LITERAL = re.compile(r"\{\d+\+?\}\Z")


class ImapRules(Rules):
    """LOGIN passwords (quoted, atoms or literals), AUTHENTICATE responses; ``+``
    either accepts a client literal or is a SASL challenge. The tag of the client's
    last command tells the tagged reply that ends a (shortened) response."""

    __slots__ = ("_authenticating", "_login_continued", "tag")

    knows_response_end = True

    def __init__(self, show_passwords: bool) -> None:
        super().__init__(show_passwords)
        #: ``b"a12 "``: the tag of the client's last command, with its space.
        self.tag = b""
        #: Inside a LOGIN command continued after a literal: every further line is secret.
        self._login_continued = False
        #: An AUTHENTICATE is running: ``+`` is a challenge (elsewhere, IDLE's ``+ idling``).
        self._authenticating = False

    def client_command(self, text: str) -> str:
        if self._login_continued:
            self._login_continued = _ENDS_WITH_LITERAL.search(text) is not None
            return text if self.show else MASK
        tag = _TAG.match(text)
        prefix = tag.group(1) if tag else ""
        if prefix:
            self.tag = prefix.encode("utf-8", "replace")
        match = _LOGIN.match(text)
        if match is not None:
            continues = _ENDS_WITH_LITERAL.search(text) is not None
            if continues and not self.show and self.client is not None:
                self.client.secret_literals = MASK
            self._login_continued = continues
            rest = match.group(2)
            if not rest:
                return text
            return match.group(1) + self.secret(rest, base64_encoded=False)
        self._authenticating = text[len(prefix) :][:13].upper() == "AUTHENTICATE "
        return _mask_auth(self, text, prefix) or text

    def server_line(self, line: bytes) -> str:
        text = display(line)
        if line.startswith(b"+"):
            if self.client is not None and self.client.pending_literal is not None:
                self.client.accept_literal()
                return text
            if self._authenticating:
                self.sasl_response = True
                decoded = decode_base64(text[2:]) if self.show else None
                if decoded is not None:
                    return f"{text}   [base64 of: {decoded}]"
            return text
        if not line.startswith(b"*") and self.client is not None:
            self._authenticating = False
            # A tagged reply: an announced literal that was not accepted never comes.
            self.client.cancel_literal()
            self.sasl_response = False
            self._login_continued = False
        return text

    def ends_response(self, line: bytes) -> bool:
        return bool(self.tag) and line.startswith(self.tag)


RULES: dict[str, type[Rules]] = {"smtp": SmtpRules, "pop3": Pop3Rules, "imap": ImapRules}
