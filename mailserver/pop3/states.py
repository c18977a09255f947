"""The three POP3 session states of RFC 1939 section 3."""

from __future__ import annotations

import enum


class State(enum.Enum):
    #: Before a successful login: USER/PASS, APOP, AUTH, CAPA, QUIT.
    AUTHORIZATION = "AUTHORIZATION"
    #: Logged in with the maildrop locked: STAT, LIST, RETR, DELE ...
    TRANSACTION = "TRANSACTION"
    #: After QUIT in TRANSACTION: marked messages are expunged, then the session ends.
    UPDATE = "UPDATE"


AUTHORIZATION_ONLY = frozenset({State.AUTHORIZATION})
TRANSACTION_ONLY = frozenset({State.TRANSACTION})
ANY_STATE = frozenset({State.AUTHORIZATION, State.TRANSACTION})
