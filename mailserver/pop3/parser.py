"""Turn one command line into a typed :class:`Command` or an :class:`InvalidCommand`.

Handlers never see raw bytes. Verbs are case-insensitive and any run of
blanks separates arguments, because students type these by hand. Only PASS
takes the rest of the line, since a password may contain spaces (RFC 1939
section 7 allows this reading).
"""

from __future__ import annotations

import enum
from collections.abc import Mapping
from dataclasses import dataclass

#: Longest verb we try to recognise; anything longer is simply unknown.
MAX_VERB_LENGTH = 16
#: Message numbers and line counts beyond this many digits are nonsense, not numbers.
MAX_NUMBER_DIGITS = 18


class Syntax(enum.Enum):
    """The argument shapes POP3 commands take."""

    NONE = "none"
    #: One word: ``USER name``.
    WORD = "word"
    #: Two words: ``APOP name digest``.
    TWO_WORDS = "two words"
    #: Zero to two words: ``AUTH [mechanism [initial-response]]``.
    AUTH = "auth"
    #: The rest of the line, verbatim apart from surrounding blanks: ``PASS secret``.
    REST = "rest"
    #: ``LIST [msg]``, ``UIDL [msg]``.
    OPTIONAL_NUMBER = "optional number"
    #: ``RETR msg``, ``DELE msg``.
    NUMBER = "number"
    #: ``TOP msg n``.
    TWO_NUMBERS = "two numbers"


@dataclass(frozen=True)
class Command:
    """A syntactically valid command; which fields are filled depends on its :class:`Syntax`."""

    verb: str
    words: tuple[str, ...] = ()
    numbers: tuple[int, ...] = ()
    text: str = ""


@dataclass(frozen=True)
class InvalidCommand:
    """A line we cannot execute; ``reply`` is the ``-ERR`` line to send (never echoes input)."""

    reply: str
    verb: str | None = None


_USAGE: dict[Syntax, str] = {
    Syntax.NONE: "",
    Syntax.WORD: " name",
    Syntax.TWO_WORDS: " name digest",
    Syntax.AUTH: " [mechanism [initial-response]]",
    Syntax.REST: " password",
    Syntax.OPTIONAL_NUMBER: " [message-number]",
    Syntax.NUMBER: " message-number",
    Syntax.TWO_NUMBERS: " message-number line-count",
}


def usage(verb: str, syntax: Syntax) -> str:
    return f"-ERR syntax: {verb}{_USAGE[syntax]}"


def parse_command(line: bytes, syntaxes: Mapping[str, Syntax]) -> Command | InvalidCommand:
    """Parse one line (without CRLF) against the verb -> syntax table."""
    stripped = line.strip(b" \t")
    if not stripped:
        return InvalidCommand("-ERR empty command")
    head, _, rest = _split_first(stripped)
    if len(head) > MAX_VERB_LENGTH or not head.isalpha() or not head.isascii():
        return InvalidCommand("-ERR unknown command")
    verb = head.decode("ascii").upper()
    syntax = syntaxes.get(verb)
    if syntax is None:
        return InvalidCommand("-ERR unknown command", verb=verb)
    try:
        arguments = rest.decode("utf-8")
    except UnicodeDecodeError:
        return InvalidCommand("-ERR arguments must be UTF-8 text", verb=verb)
    return _parse_arguments(verb, syntax, arguments)


def _split_first(line: bytes) -> tuple[bytes, bytes, bytes]:
    for index, byte in enumerate(line):
        if byte in b" \t":
            return line[:index], line[index : index + 1], line[index + 1 :].lstrip(b" \t")
    return line, b"", b""


def _parse_arguments(verb: str, syntax: Syntax, arguments: str) -> Command | InvalidCommand:
    if syntax is Syntax.REST:
        text = arguments.strip(" \t")
        if not text:
            return InvalidCommand(usage(verb, syntax), verb=verb)
        return Command(verb, text=text)
    words = tuple(arguments.split())
    low, high, numeric = _SHAPES[syntax]
    if not low <= len(words) <= high:
        return InvalidCommand(usage(verb, syntax), verb=verb)
    if not numeric:
        return Command(verb, words=words)
    numbers: list[int] = []
    for word in words:
        if not word.isdigit() or not word.isascii() or len(word) > MAX_NUMBER_DIGITS:
            return InvalidCommand(
                f"-ERR invalid number: {verb}{_USAGE[syntax]} takes decimal numbers", verb=verb
            )
        numbers.append(int(word))
    return Command(verb, numbers=tuple(numbers))


#: Syntax -> (fewest arguments, most arguments, all numeric).
_SHAPES: dict[Syntax, tuple[int, int, bool]] = {
    Syntax.NONE: (0, 0, False),
    Syntax.WORD: (1, 1, False),
    Syntax.TWO_WORDS: (2, 2, False),
    Syntax.AUTH: (0, 2, False),
    Syntax.OPTIONAL_NUMBER: (0, 1, True),
    Syntax.NUMBER: (1, 1, True),
    Syntax.TWO_NUMBERS: (2, 2, True),
}
