"""The dispatch table: verb -> (handler, argument syntax, states it is valid in).

Built once at import; the session looks verbs up here and nowhere else
(Dovecot's ``pop3-commands.c`` table, not ``getattr(self, "do_" + verb)``).
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING

from mailserver.pop3.commands import (
    apop,
    auth,
    capa,
    dele,
    list_,
    noop,
    pass_,
    quit,
    retr,
    rset,
    stat,
    stls,
    top,
    uidl,
    user,
)
from mailserver.pop3.parser import Command, Syntax
from mailserver.pop3.states import ANY_STATE, AUTHORIZATION_ONLY, TRANSACTION_ONLY, State

if TYPE_CHECKING:
    from mailserver.pop3.session import Pop3Session

Handler = Callable[["Pop3Session", Command], Awaitable[None]]


@dataclass(frozen=True)
class CommandSpec:
    handler: Handler
    syntax: Syntax
    states: frozenset[State]


COMMANDS: dict[str, CommandSpec] = {
    "USER": CommandSpec(user.run, Syntax.WORD, AUTHORIZATION_ONLY),
    "PASS": CommandSpec(pass_.run, Syntax.REST, AUTHORIZATION_ONLY),
    "APOP": CommandSpec(apop.run, Syntax.TWO_WORDS, AUTHORIZATION_ONLY),
    "AUTH": CommandSpec(auth.run, Syntax.AUTH, AUTHORIZATION_ONLY),
    "STLS": CommandSpec(stls.run, Syntax.NONE, AUTHORIZATION_ONLY),
    "CAPA": CommandSpec(capa.run, Syntax.NONE, ANY_STATE),
    "QUIT": CommandSpec(quit.run, Syntax.NONE, ANY_STATE),
    "STAT": CommandSpec(stat.run, Syntax.NONE, TRANSACTION_ONLY),
    "LIST": CommandSpec(list_.run, Syntax.OPTIONAL_NUMBER, TRANSACTION_ONLY),
    "UIDL": CommandSpec(uidl.run, Syntax.OPTIONAL_NUMBER, TRANSACTION_ONLY),
    "RETR": CommandSpec(retr.run, Syntax.NUMBER, TRANSACTION_ONLY),
    "TOP": CommandSpec(top.run, Syntax.TWO_NUMBERS, TRANSACTION_ONLY),
    "DELE": CommandSpec(dele.run, Syntax.NUMBER, TRANSACTION_ONLY),
    "NOOP": CommandSpec(noop.run, Syntax.NONE, TRANSACTION_ONLY),
    "RSET": CommandSpec(rset.run, Syntax.NONE, TRANSACTION_ONLY),
}

#: What the parser needs: verb -> argument syntax.
SYNTAXES: dict[str, Syntax] = {verb: spec.syntax for verb, spec in COMMANDS.items()}
