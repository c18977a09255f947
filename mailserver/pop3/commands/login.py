"""What every successful login does (PASS, APOP, AUTH): lock the maildrop and snapshot INBOX."""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING

from mailserver.pop3.errors import Pop3Error
from mailserver.pop3.maildrop import Maildrop
from mailserver.pop3.states import State
from mailserver.storage import INBOX

if TYPE_CHECKING:
    from mailserver.pop3.session import Pop3Session

log = logging.getLogger("mailserver.pop3")

AUTH_FAILED = "-ERR [AUTH] authentication failed"
PLAINTEXT_DISALLOWED = "-ERR [AUTH] plaintext authentication disallowed without TLS"
IN_USE = "-ERR [IN-USE] mailbox already locked"


def summary(count: int, size: int) -> str:
    """``5 messages (9782 octets)``, as the lab handout shows after PASS."""
    return f"{count} message{'' if count == 1 else 's'} ({size} octets)"


def require_plaintext(session: Pop3Session) -> None:
    if not session.plaintext_allowed:
        raise Pop3Error(PLAINTEXT_DISALLOWED)


def login_failed(session: Pop3Session, login: str, method: str) -> Pop3Error:
    log.info("pop3 %s: %s login failed for %r", session.peer, method, login[:64])
    return Pop3Error(AUTH_FAILED, bad=True)


async def begin_transaction(session: Pop3Session, user: str, method: str) -> None:
    """Enter TRANSACTION with a locked snapshot of INBOX, or stay in AUTHORIZATION."""
    session.pending_user = None
    if not session.locks.try_acquire(user):
        log.info("pop3 %s: %s already has a POP3 session", session.peer, user)
        raise Pop3Error(IN_USE)
    try:
        mailbox = await session.services.store.mailbox(user)
        folder = await mailbox.folder(INBOX)
        snapshot = await folder.snapshot()
    except BaseException:
        session.locks.release(user)
        raise
    maildrop = Maildrop(folder, snapshot)
    session.locked_user = user
    session.user = user
    session.maildrop = maildrop
    session.state = State.TRANSACTION
    session.recorder.login(user, method)
    if session.handle is not None:
        session.handle.logged_in()
    log.info(
        "pop3 %s: %s logged in (%s), %d messages",
        session.peer,
        user,
        method,
        maildrop.count,
    )
    await session.reply(f"+OK {summary(maildrop.count, maildrop.size)}")


def maildrop_of(session: Pop3Session) -> Maildrop:
    """The session's maildrop; the state table guarantees one in TRANSACTION."""
    maildrop = session.maildrop
    if maildrop is None:
        raise Pop3Error("-ERR not logged in")
    return maildrop
