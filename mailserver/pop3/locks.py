"""One POP3 session per maildrop at a time (RFC 1939 section 8: exclusive-access lock).

The lock lives in this process only: IMAP sessions and SMTP delivery use the
store's own concurrency and carry on while a POP3 client holds the maildrop.
The registry hangs off the store object so that every POP3 listener of one
server (plain and implicit TLS) shares it, without a module-wide global state
leaking between servers started in one test process.
"""

from __future__ import annotations

import weakref

from mailserver.storage import MailStore


class MaildropLocks:
    """The set of users whose maildrop a POP3 session holds."""

    def __init__(self) -> None:
        self._held: set[str] = set()

    def try_acquire(self, user: str) -> bool:
        """True if the caller now holds the lock; False if another session has it."""
        if user in self._held:
            return False
        self._held.add(user)
        return True

    def release(self, user: str) -> None:
        self._held.discard(user)

    def is_locked(self, user: str) -> bool:
        return user in self._held


_REGISTRIES: weakref.WeakKeyDictionary[MailStore, MaildropLocks] = weakref.WeakKeyDictionary()


def locks_for(store: MailStore) -> MaildropLocks:
    """The lock registry shared by every POP3 session on ``store``."""
    registry = _REGISTRIES.get(store)
    if registry is None:
        registry = _REGISTRIES[store] = MaildropLocks()
    return registry
