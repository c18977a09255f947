"""The table from command name to handler, the states it is valid in, and whether
the session may report EXPUNGEs after it. Built once at import time."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from mailserver.imap import states
from mailserver.imap.commands import (
    any_state,
    authenticated,
    context,
    enable,
    idle,
    list_extended,
    mailboxes,
    move,
    not_authenticated,
    notify,
    quota,
    select,
    selected,
    session_info,
    sort,
    special_use,
    store,
    uidplus,
    urlauth,
)
from mailserver.imap.errors import Response
from mailserver.imap.states import State

if TYPE_CHECKING:
    from mailserver.imap.session import ImapSession

Handler = Callable[["ImapSession", Any], Awaitable[Response]]


@dataclass(frozen=True)
class CommandSpec:
    handler: Handler
    states: frozenset[State]
    #: RFC 3501 7.4.1: no EXPUNGE response while FETCH, STORE or SEARCH runs
    #: (their UID forms are fine: UIDs do not shift).
    allow_expunge: bool = True
    #: Takes message sequence numbers and may be followed by EXPUNGEs (COPY, MOVE):
    #: others' expunges are announced after it, not before, because the client
    #: numbered the command before it could see them (RFC 3501 7.4.1's reason).
    numbers_first: bool = False


COMMANDS: dict[str, CommandSpec] = {
    "CAPABILITY": CommandSpec(any_state.capability, states.ANY),
    "NOOP": CommandSpec(any_state.noop, states.ANY),
    "LOGOUT": CommandSpec(any_state.logout, states.ANY),
    "STARTTLS": CommandSpec(not_authenticated.starttls, states.NOT_AUTHENTICATED),
    "LOGIN": CommandSpec(not_authenticated.login, states.NOT_AUTHENTICATED),
    "AUTHENTICATE": CommandSpec(not_authenticated.authenticate, states.NOT_AUTHENTICATED),
    "SELECT": CommandSpec(select.select, states.AUTHENTICATED),
    "EXAMINE": CommandSpec(select.select, states.AUTHENTICATED),
    "CREATE": CommandSpec(special_use.create, states.AUTHENTICATED),  # RFC 6154 3 too
    "DELETE": CommandSpec(mailboxes.delete, states.AUTHENTICATED),
    "RENAME": CommandSpec(mailboxes.rename, states.AUTHENTICATED),
    "SUBSCRIBE": CommandSpec(mailboxes.subscribe, states.AUTHENTICATED),
    "UNSUBSCRIBE": CommandSpec(mailboxes.unsubscribe, states.AUTHENTICATED),
    "LIST": CommandSpec(list_extended.list_command, states.AUTHENTICATED),
    "LSUB": CommandSpec(mailboxes.lsub, states.AUTHENTICATED),
    "STATUS": CommandSpec(mailboxes.status, states.AUTHENTICATED),
    "APPEND": CommandSpec(authenticated.append, states.AUTHENTICATED),
    "GETQUOTA": CommandSpec(quota.getquota, states.AUTHENTICATED),
    "GETQUOTAROOT": CommandSpec(quota.getquotaroot, states.AUTHENTICATED),
    "SETQUOTA": CommandSpec(quota.setquota, states.AUTHENTICATED),
    "CHECK": CommandSpec(selected.check, states.SELECTED),
    "CLOSE": CommandSpec(selected.close, states.SELECTED),
    "EXPUNGE": CommandSpec(selected.expunge, states.SELECTED),
    "SEARCH": CommandSpec(selected.search, states.SELECTED, allow_expunge=False),
    "FETCH": CommandSpec(selected.fetch, states.SELECTED, allow_expunge=False),
    "STORE": CommandSpec(store.store, states.SELECTED, allow_expunge=False),
    "COPY": CommandSpec(selected.copy, states.SELECTED, numbers_first=True),
    "UID SEARCH": CommandSpec(selected.search, states.SELECTED),
    "UID FETCH": CommandSpec(selected.fetch, states.SELECTED),
    "UID STORE": CommandSpec(store.store, states.SELECTED),
    "UID COPY": CommandSpec(selected.copy, states.SELECTED),
    # Extensions (RFC 2177, 2342, 2971, 3691, 4315, 5161, 6851).
    "ID": CommandSpec(session_info.id_, states.ANY),
    "ENABLE": CommandSpec(enable.enable_command, states.AUTHENTICATED),
    "NAMESPACE": CommandSpec(session_info.namespace, states.AUTHENTICATED),
    "IDLE": CommandSpec(idle.idle, states.AUTHENTICATED),
    "UNSELECT": CommandSpec(session_info.unselect, states.SELECTED),
    "MOVE": CommandSpec(move.move, states.SELECTED, numbers_first=True),
    "UID MOVE": CommandSpec(move.move, states.SELECTED),
    "UID EXPUNGE": CommandSpec(uidplus.uid_expunge, states.SELECTED),
    # RFC 5256 (with RFC 5957 and RFC 5267's ESORT).
    "SORT": CommandSpec(sort.sort, states.SELECTED, allow_expunge=False),
    "UID SORT": CommandSpec(sort.sort, states.SELECTED),
    "THREAD": CommandSpec(sort.thread, states.SELECTED, allow_expunge=False),
    "UID THREAD": CommandSpec(sort.thread, states.SELECTED),
    "CANCELUPDATE": CommandSpec(context.cancelupdate, states.SELECTED),  # RFC 5267
    "NOTIFY": CommandSpec(notify.notify_command, states.AUTHENTICATED),  # RFC 5465
    # RFC 4467.
    "GENURLAUTH": CommandSpec(urlauth.genurlauth, states.AUTHENTICATED),
    "RESETKEY": CommandSpec(urlauth.resetkey, states.AUTHENTICATED),
    "URLFETCH": CommandSpec(urlauth.urlfetch, states.AUTHENTICATED),
}
