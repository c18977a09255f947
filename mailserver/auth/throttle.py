"""Slow down password guessing, per client address and per account.

A few mistakes cost nothing (students mistype). After that every further
failure is answered later and later (doubling up to a ceiling), and an
address that keeps failing is refused outright for a while, which is logged
with the address. Accounts are only slowed, never locked: otherwise anyone
could lock a student out by guessing at their name. Addresses in the exempt
networks (a lab room behind one NAT address) are slowed but never blocked.

All the state is in one :class:`LoginThrottle` object, so that it can later
be shared between worker processes without touching its callers.
"""

from __future__ import annotations

import ipaddress
import logging
import math
import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from mailserver.config import AuthSettings

log = logging.getLogger(__name__)


Network = ipaddress.IPv4Network | ipaddress.IPv6Network


@dataclass(frozen=True)
class ThrottlePolicy:
    free_failures: int = 3
    base_delay: float = 0.5
    max_delay: float = 8.0
    block_after: int = 10
    block_seconds: float = 300.0
    #: Failures older than this are forgotten.
    window: float = 900.0
    #: Client addresses in these ranges are slowed like any other, never blocked.
    exempt_networks: tuple[Network, ...] = ()

    @classmethod
    def from_settings(cls, settings: AuthSettings) -> ThrottlePolicy:
        """The policy the config's ``auth`` section asks for."""
        return cls(
            free_failures=settings.free_failures,
            base_delay=settings.failure_delay,
            max_delay=settings.max_failure_delay,
            block_after=settings.block_after_failures,
            block_seconds=settings.block_seconds,
            exempt_networks=tuple(ipaddress.ip_network(n) for n in settings.exempt_networks),
        )

    def exempt(self, client: str) -> bool:
        if not self.exempt_networks:
            return False
        try:
            address = ipaddress.ip_address(client)
        except ValueError:
            return False
        if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped is not None:
            address = address.ipv4_mapped  # ::ffff:10.1.2.3 on a dual-stack listener
        return any(address in network for network in self.exempt_networks)


class LoginThrottle:
    """Remembers recent failures; answers "how long to wait" and "is this address blocked"."""

    #: Bounds the memory an attacker can make us spend on distinct keys.
    MAX_TRACKED = 50_000

    def __init__(
        self, policy: ThrottlePolicy | None = None, clock: Callable[[], float] = time.monotonic
    ) -> None:
        self.policy = policy or ThrottlePolicy()
        self._clock = clock
        self._failures: dict[str, deque[float]] = {}
        self._blocked_until: dict[str, float] = {}
        #: Told ``(action, client, user)`` of each failure and success recorded here
        #: (not of those other processes reported): how worker processes share counts.
        self.observer: Callable[[str, str | None, str | None], None] | None = None

    def is_blocked(self, client: str | None) -> bool:
        return self.blocked_for(client) > 0

    def blocked_for(self, client: str | None) -> int:
        """Whole seconds (rounded up) until ``client`` may try again; 0 when not blocked."""
        if client is None:
            return 0
        until = self._blocked_until.get(client)
        if until is None:
            return 0
        left = until - self._clock()
        if left <= 0:
            del self._blocked_until[client]
            self._failures.pop(_ip_key(client), None)
            return 0
        return math.ceil(left)

    def record_failure(
        self, client: str | None, user: str | None, *, remote: bool = False
    ) -> float:
        """Note a failed login; returns the seconds to wait before answering it.
        ``remote``: another process saw it (it is counted, not announced again)."""
        if not remote and self.observer is not None:
            self.observer("failure", client, user)
        now = self._clock()
        counts = [self._add(key, now) for key in self._keys(client, user)]
        worst = max(counts, default=0)
        if (
            client is not None
            and self._count(_ip_key(client), now) >= self.policy.block_after
            and not self.policy.exempt(client)
        ):
            if client not in self._blocked_until:
                log.warning(
                    "authentication from %s blocked for %ds after %d failures",
                    client,
                    self.policy.block_seconds,
                    self.policy.block_after,
                )
            self._block(client, now)
        return self._delay(worst)

    def _block(self, client: str, now: float) -> None:
        """Block ``client``; the table of blocks is bounded like the failure counts,
        or an attacker with many addresses (an IPv6 prefix) could grow it for ever."""
        if client not in self._blocked_until and len(self._blocked_until) >= self.MAX_TRACKED:
            expired = [key for key, until in self._blocked_until.items() if until <= now]
            for key in expired:
                del self._blocked_until[key]
            if not expired:
                self._blocked_until.pop(next(iter(self._blocked_until)))
        self._blocked_until[client] = now + self.policy.block_seconds

    def tracked(self) -> int:
        """How many addresses and accounts the throttle remembers (bounded by MAX_TRACKED each)."""
        return len(self._failures) + len(self._blocked_until)

    def record_success(self, client: str | None, user: str | None, *, remote: bool = False) -> None:
        if not remote and self.observer is not None:
            self.observer("success", client, user)
        for key in self._keys(client, user):
            self._failures.pop(key, None)

    def _delay(self, failures: int) -> float:
        excess = failures - self.policy.free_failures
        if excess <= 0:
            return 0.0
        return float(min(self.policy.base_delay * 2 ** (excess - 1), self.policy.max_delay))

    @staticmethod
    def _keys(client: str | None, user: str | None) -> list[str]:
        keys = []
        if client is not None:
            keys.append(_ip_key(client))
        if user is not None:
            keys.append("user:" + user.lower())
        return keys

    def _add(self, key: str, now: float) -> int:
        if key not in self._failures and len(self._failures) >= self.MAX_TRACKED:
            self._failures.pop(next(iter(self._failures)))
        times = self._failures.setdefault(key, deque(maxlen=self.policy.block_after * 4))
        times.append(now)
        return self._count(key, now)

    def _count(self, key: str, now: float) -> int:
        times = self._failures.get(key)
        if not times:
            return 0
        while times and now - times[0] > self.policy.window:
            times.popleft()
        return len(times)


def _ip_key(client: str) -> str:
    return "ip:" + client
