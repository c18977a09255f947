"""Turning what a client typed into a user name, for SMTP, POP3 and IMAP alike.

One place decides who someone is, so a login that works in POP3 works the
same in IMAP and SMTP AUTH: bare name, alias, or full address in a served
domain, case-insensitively.
"""

from __future__ import annotations

import asyncio
import hashlib
import hmac
import logging
import secrets
import threading
from collections import OrderedDict
from collections.abc import Iterable
from concurrent.futures import ThreadPoolExecutor

from mailserver.auth.throttle import LoginThrottle
from mailserver.auth.users import UserDatabase

log = logging.getLogger(__name__)

#: Successful checks remembered; old ones fall out first (LRU).
CACHE_SIZE = 10_000

#: Threads for hash verification. Few on purpose: a flood of bad logins then
#: queues up instead of taking every core away from mail delivery.
VERIFY_WORKERS = 2


class LoginBlocked(Exception):
    """The client's address is blocked by the guessing brake; no password was checked.

    Not a failed login: each protocol answers with its "temporary, try later"
    reply naming ``seconds`` (POP3 ``[SYS/TEMP]``, IMAP ``[UNAVAILABLE]``,
    SMTP ``454 4.7.0``), so a student with the right password sees why.
    """

    def __init__(self, client: str, seconds: int) -> None:
        super().__init__(f"logins from {client} blocked for {seconds} more seconds")
        self.client = client
        self.seconds = seconds

    @property
    def reason(self) -> str:
        """The text for the reply, the same in every protocol."""
        return f"too many failed logins from your address, try again in {self.seconds} seconds"


def _digest_bytes(digest_hex: str) -> bytes:
    """Client-supplied hex, normalised; any junk still encodes (and simply fails to match)."""
    return digest_hex.strip().lower().encode("utf-8", "backslashreplace")


class Authenticator:
    """Checks logins against a :class:`UserDatabase` without stalling the event loop.

    Failures look alike from outside: an unknown user costs one verify
    against a dummy hash, just as a wrong password does, and every
    comparison is constant-time.

    Mail clients log in again and again (every POP3 poll, every IMAP
    connection), so successful checks are cached: the key is the user plus
    an HMAC of the password under a per-process random key, the value the
    stored hash it was verified against. A later login with the same
    password and the same stored hash skips the expensive verify; a changed
    hash (``passwd`` from the CLI) makes the old entries worthless and they
    are dropped. No plaintext password is ever kept or logged.
    """

    def __init__(
        self,
        users: UserDatabase,
        domains: Iterable[str],
        throttle: LoginThrottle | None = None,
    ) -> None:
        self._users = users
        self.throttle = throttle or LoginThrottle()
        self._domains = frozenset(d.rstrip(".").lower() for d in domains)
        self._cache_key = secrets.token_bytes(32)
        self._cache: OrderedDict[tuple[str, bytes], str] = OrderedDict()
        self._cache_lock = threading.Lock()
        self._executor: ThreadPoolExecutor | None = None

    # ------------------------------------------------------------------ lookup

    def resolve(self, login: str) -> str | None:
        """``name``, ``alias`` or ``local@served.domain`` -> canonical user name, else None."""
        self._users.reload_if_changed()
        return self._resolve(login)

    def _resolve(self, login: str) -> str | None:
        local, at, domain = login.rpartition("@")
        if not at:
            local = login
        elif domain.rstrip(".").lower() not in self._domains:
            return None
        if not local:
            return None
        return self._users.resolve_local_part(local)

    def plain_secret(self, user: str) -> str | None:
        """The user's plaintext-equivalent secret for APOP / CRAM-MD5, if one is stored."""
        self._users.reload_if_changed()
        return self._users.plain_secret(user)

    # ---------------------------------------------------------------- password

    async def authenticate(
        self, login: str, password: str, client: str | None = None
    ) -> str | None:
        """The canonical user name if ``password`` is right for ``login``, else None.

        ``client`` (the peer's IP address) feeds the guessing throttle: a
        failure is answered only after the throttle's delay, and a blocked
        address gets :class:`LoginBlocked` without any check at all.
        """
        self._refuse_if_blocked(client)
        user = await self._check_password(login, password)
        await self._account(user, login, client)
        return user

    def _refuse_if_blocked(self, client: str | None) -> None:
        """Raise :class:`LoginBlocked` for a blocked address, logged as a block."""
        seconds = self.throttle.blocked_for(client)
        if seconds and client is not None:
            log.info("login from %s refused: address blocked for %ds more", client, seconds)
            raise LoginBlocked(client, seconds)

    async def _account(self, user: str | None, login: str, client: str | None) -> None:
        """Tell the throttle how a login went, and wait out its delay after a failure."""
        if user is not None:
            self.throttle.record_success(client, user)
            return
        delay = self.throttle.record_failure(client, self._resolve(login) or login[:64])
        if delay:
            await asyncio.sleep(delay)

    async def _check_password(self, login: str, password: str) -> str | None:
        self._users.reload_if_changed()
        user = self._resolve(login)
        stored = self._users.password_hash(user) if user is not None else None
        if user is None or stored is None:
            # Same work as a wrong password, so user names cannot be probed by timing.
            await self._run_verify(password, None)
            return None
        key = (user, self._mac(password))
        if self._cache_hit(key, stored):
            return user
        if not await self._run_verify(password, stored):
            return None
        self._cache_store(key, stored)
        return user

    def _verify(self, password: str, hashed: str) -> bool:
        """The expensive check; runs in a worker thread. A seam for tests to count calls."""
        return self._users.verify_hash(password, hashed)

    def _verify_or_dummy(self, password: str, hashed: str | None) -> bool:
        # The dummy hash is made lazily, so make it here, off the event loop too.
        return self._verify(password, hashed if hashed is not None else self._users.dummy_hash())

    async def _run_verify(self, password: str, hashed: str | None) -> bool:
        if self._executor is None:
            self._executor = ThreadPoolExecutor(
                max_workers=VERIFY_WORKERS, thread_name_prefix="auth-verify"
            )
        loop = asyncio.get_running_loop()
        return await loop.run_in_executor(self._executor, self._verify_or_dummy, password, hashed)

    def close(self) -> None:
        """Stop the verify threads (at server shutdown); later logins start new ones."""
        if self._executor is not None:
            self._executor.shutdown(wait=False, cancel_futures=True)
            self._executor = None

    # ------------------------------------------------------------------- cache

    def _mac(self, password: str) -> bytes:
        data = password.encode("utf-8", "surrogatepass")
        return hmac.new(self._cache_key, data, hashlib.sha256).digest()

    def _cache_hit(self, key: tuple[str, bytes], stored: str) -> bool:
        with self._cache_lock:
            cached = self._cache.get(key)
            if cached is None:
                return False
            if hmac.compare_digest(cached.encode(), stored.encode()):
                self._cache.move_to_end(key)
                return True
            # The stored hash changed: every entry for this user is stale.
            user = key[0]
            for stale in [k for k in self._cache if k[0] == user]:
                del self._cache[stale]
            return False

    def _cache_store(self, key: tuple[str, bytes], stored: str) -> None:
        with self._cache_lock:
            self._cache[key] = stored
            self._cache.move_to_end(key)
            while len(self._cache) > CACHE_SIZE:
                self._cache.popitem(last=False)

    # --------------------------------------------------- shared-secret digests

    def _secret_for(self, login: str) -> tuple[str | None, str]:
        """(user, secret); a random stand-in secret keeps the work uniform when there is none."""
        user = self.resolve(login)
        secret = self._users.plain_secret(user) if user is not None else None
        if user is None or secret is None:
            return None, secrets.token_hex(16)
        return user, secret

    def verify_apop(self, login: str, timestamp_banner: str, digest_hex: str) -> str | None:
        """APOP (RFC 1939 section 7): ``digest_hex == md5(banner + secret)``."""
        user, secret = self._secret_for(login)
        expected = hashlib.md5((timestamp_banner + secret).encode("utf-8")).hexdigest()
        ok = hmac.compare_digest(expected.encode(), _digest_bytes(digest_hex))
        return user if ok and user is not None else None

    def verify_cram_md5(self, login: str, challenge: bytes, digest_hex: str) -> str | None:
        """CRAM-MD5 (RFC 2195): ``digest_hex == HMAC-MD5(key=secret, challenge)``."""
        user, secret = self._secret_for(login)
        expected = hmac.new(secret.encode("utf-8"), challenge, hashlib.md5).hexdigest()
        ok = hmac.compare_digest(expected.encode(), _digest_bytes(digest_hex))
        return user if ok and user is not None else None

    async def apop(
        self, login: str, timestamp_banner: str, digest_hex: str, client: str | None = None
    ) -> str | None:
        """:meth:`verify_apop` behind the guessing throttle."""
        self._refuse_if_blocked(client)
        user = self.verify_apop(login, timestamp_banner, digest_hex)
        await self._account(user, login, client)
        return user

    async def cram_md5(
        self, login: str, challenge: bytes, digest_hex: str, client: str | None = None
    ) -> str | None:
        """:meth:`verify_cram_md5` behind the guessing throttle."""
        self._refuse_if_blocked(client)
        user = self.verify_cram_md5(login, challenge, digest_hex)
        await self._account(user, login, client)
        return user
