"""The user database: one small YAML file of accounts and password hashes.

The file is the interface between the CLI (``mailserver user add``,
``lab provision``) and the running server, so it is written atomically and
re-read by the server when it changes; nothing else needs restarting.

Format::

    users:
      group1_1:
        password: "$6$..."        # passlib hash, never plaintext
        secret: "group1_1"        # optional: only when APOP / CRAM-MD5 are wanted
        aliases: [nick]           # optional extra local parts

Keys this module does not know about (per user or at the top) are kept as
they are, so a later feature can add fields without old code deleting them.
"""

from __future__ import annotations

import contextlib
import fcntl
import logging
import os
import re
import secrets
import tempfile
import threading
import time
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import Any

import yaml
from passlib.context import CryptContext
from passlib.exc import MissingBackendError, PasslibSecurityError
from passlib.registry import get_crypt_handler
from passlib.utils import binary as passlib_binary
from passlib.utils.binary import LazyBase64Engine

log = logging.getLogger(__name__)

#: Local parts we accept as user names. They double as maildir folder names,
#: so no '/', no leading '.' (hidden files, '..') and no leading '-' (options).
_NAME_RE = re.compile(r"[a-z0-9_][a-z0-9._-]{0,63}")

#: Longer passwords are refused outright: sha-crypt's cost grows with the
#: password length, so an unbounded password is a cheap CPU attack.
MAX_PASSWORD_LENGTH = 1024

#: Schemes tried, after the configured one, when *verifying* a stored hash.
#: All of them carry an unambiguous prefix, so a users file written with
#: another scheme (or by another server) keeps working. Schemes that match
#: any short string (des_crypt, hex digests, plaintext) are left out on
#: purpose: with them a plaintext password in the file would pass as a hash.
_VERIFY_SCHEMES = (
    "sha512_crypt",
    "sha256_crypt",
    "bcrypt_sha256",
    "bcrypt",
    "argon2",
    "scrypt",
    "pbkdf2_sha512",
    "pbkdf2_sha256",
    "pbkdf2_sha1",
    "md5_crypt",
    "apr_md5_crypt",
    "sha1_crypt",
    "sun_md5_crypt",
    "bsdi_crypt",
    "phpass",
    "ldap_sha512_crypt",
    "ldap_sha256_crypt",
    "ldap_md5_crypt",
    "ldap_bcrypt",
    "ldap_salted_sha512",
    "ldap_salted_sha256",
    "ldap_salted_sha1",
    "ldap_pbkdf2_sha512",
    "ldap_pbkdf2_sha256",
    "ldap_pbkdf2_sha1",
)

#: Offered in the error message when the configured scheme is not usable.
_SUGGESTED_SCHEMES = ("sha512_crypt", "sha256_crypt", "bcrypt", "argon2", "pbkdf2_sha256")

#: What to install for schemes whose backend is an optional package.
_BACKEND_PACKAGES = {
    "bcrypt": "pip install bcrypt",
    "bcrypt_sha256": "pip install bcrypt",
    "argon2": "pip install argon2-cffi",
}

#: crypt(3)'s default for $5$/$6$; see :class:`UserDatabase` for why.
_SHA_CRYPT_ROUNDS = 5000


class UserError(Exception):
    """A user-database problem worded for the administrator (the CLI prints it as is)."""


def normalize_name(name: str) -> str:
    """Lower-case and validate a user name (or alias); raise :class:`UserError` if unusable."""
    folded = name.lower()
    if not _NAME_RE.fullmatch(folded):
        raise UserError(
            f"invalid user name {name!r}: use 1-64 characters from a-z, 0-9, '.', '_', '-',"
            " not starting with '.' or '-'"
        )
    return folded


def _check_password(password: str) -> None:
    if not password:
        raise UserError("the password must not be empty")
    if len(password) > MAX_PASSWORD_LENGTH:
        raise UserError(f"the password is longer than {MAX_PASSWORD_LENGTH} characters")


def check_password_scheme(scheme: str) -> None:
    """``UserError`` saying why ``scheme`` cannot store passwords here (config validation)."""
    _make_context(scheme)


def _make_context(scheme: str) -> CryptContext:
    """Build the hashing context, refusing schemes that cannot protect a password."""
    hint = "valid schemes include " + ", ".join(_SUGGESTED_SCHEMES)
    try:
        handler: Any = get_crypt_handler(scheme)
    except (KeyError, ValueError):
        raise UserError(f"unknown password scheme {scheme!r}; {hint}") from None
    settings: tuple[str, ...] = tuple(getattr(handler, "setting_kwds", ()))
    needs_context = bool(getattr(handler, "context_kwds", ()))
    if "salt" not in settings or needs_context:
        # Unsalted digests, plaintext and "disabled" markers, or schemes that
        # need the user name mixed in: none of these belong in a users file.
        raise UserError(f"password scheme {scheme!r} is not suitable for storing passwords; {hint}")
    has_backend = getattr(handler, "has_backend", None)
    if has_backend is not None and not has_backend():
        raise UserError(
            f"password scheme {scheme!r} needs an optional package that is not installed"
            f" ({_BACKEND_PACKAGES.get(scheme, 'see the passlib documentation')}); {hint}"
        )
    schemes = [scheme, *(s for s in _VERIFY_SCHEMES if s != scheme)]
    options: dict[str, Any] = {}
    for name in ("sha512_crypt", "sha256_crypt"):
        options[f"{name}__default_rounds"] = _SHA_CRYPT_ROUNDS
    context = CryptContext(schemes=schemes, default=scheme, **options)
    with _prepared_lock:
        if scheme not in _prepared:
            _prepare_for_threads(context)
            _prepared.add(scheme)
    return context


#: Schemes whose passlib set-up this process has done: it is process-wide
#: (handler classes, module-level encoders), so once is enough -- not again
#: for every UserDatabase a console page or CLI command opens (~8 ms each).
_prepared: set[str] = set()
_prepared_lock = threading.Lock()


def _prepare_for_threads(context: CryptContext) -> None:
    """Do passlib's one-time set-up now, while one thread runs, not at the first logins.

    passlib sets parts of itself up lazily, at the first hash or verify, and
    that is not thread-safe. Two verify threads (``Authenticator`` runs two
    per worker) at a worker's first logins could meet in it:

    * a scheme's backend choice: a thread that had looked up the lazy-loading
      stub when the other finished choosing raised ``AssertionError``
      ("failed to replace lazy loader");
    * the shared hash64 encoders (``passlib.utils.binary.h64`` ...): the
      second thread's set-up failed with ``AttributeError`` (``_lazy_opts``),
      or, a moment earlier, with the ``TypeError`` ``verify_hash`` reads as
      a malformed hash, a wrong password for a right one.

    Either was issue #13's rare ``NO [SERVERBUG]`` / ``-ERR [SYS/TEMP]`` at
    first logins under load. So: choose every scheme's backend, set up every
    lazy encoder, then hash and verify once with the configured scheme, which
    walks the whole path a login takes (about 8 ms in all). Schemes whose
    optional package is missing (bcrypt, argon2) stay missing and are
    reported by :meth:`UserDatabase.verify_hash` as before.
    """
    for name in context.schemes():
        handler = context.handler(name)
        get_backend = getattr(handler, "get_backend", None)
        if get_backend is None:
            continue  # a single implementation: nothing chosen lazily
        with contextlib.suppress(MissingBackendError, PasslibSecurityError):
            get_backend()
    for engine in vars(passlib_binary).values():
        if isinstance(engine, LazyBase64Engine):
            engine.encode_bytes(b"")  # any public attribute runs its set-up
    context.verify("warm-up", context.hash("warm-up"))


def _fsync_dir(folder: Path) -> None:
    """Make the rename durable; not possible (nor needed) on every platform."""
    if os.name != "posix":
        return
    fd = os.open(folder, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


class UserDatabase:
    """Accounts, password hashes and aliases, kept in one YAML file.

    Hashing uses a passlib ``CryptContext`` with the configured scheme. For
    ``sha512_crypt`` / ``sha256_crypt`` we use 5000 rounds, the crypt(3)
    default (and what a ``$6$`` hash from ``mkpasswd`` has), rather than
    passlib's 656,000: ``lab provision`` creates 72 accounts and must finish
    in seconds, every login costs one verify, and a lab server's threat model
    is students reading the wire, not an offline attack on a stolen users
    file. Sites that want slow hashes can pick ``bcrypt`` or ``argon2``.

    Any hash passlib can identify unambiguously still verifies, whatever the
    configured scheme; only new hashes use it.

    The server and the CLI are separate processes: the CLI rewrites the file
    atomically and the server notices with :meth:`reload_if_changed`. Methods
    are safe to call from several threads (a lock guards the in-memory copy).
    """

    #: Minimum seconds between two ``stat`` calls in :meth:`reload_if_changed`.
    RELOAD_INTERVAL: float = 1.0

    def __init__(self, path: Path, scheme: str = "sha512_crypt") -> None:
        self.path = Path(path)
        self.scheme = scheme
        self._context = _make_context(scheme)
        self._lock = threading.RLock()
        self._doc: dict[str, Any] = {}
        self._users: dict[str, dict[str, Any]] = {}
        self._aliases: dict[str, str] = {}
        self._stamp: tuple[int, int, int] | None = None
        self._last_check = 0.0
        self._dummy_hash: str | None = None
        self._load(self._read())

    # ----------------------------------------------------------------- reading

    def _stat(self) -> tuple[int, int, int] | None:
        try:
            st = os.stat(self.path)
        except FileNotFoundError:
            return None
        except OSError as exc:
            raise UserError(f"cannot read user database {self.path}: {exc.strerror}") from None
        return (st.st_ino, st.st_mtime_ns, st.st_size)

    def _read(self) -> tuple[dict[str, Any], tuple[int, int, int] | None]:
        """Read and parse the file; a missing file is an empty database."""
        stamp = self._stat()
        if stamp is None:
            return {}, None
        try:
            text = self.path.read_text(encoding="utf-8")
        except FileNotFoundError:
            return {}, None
        except (OSError, UnicodeDecodeError) as exc:
            raise UserError(f"cannot read user database {self.path}: {exc}") from None
        try:
            doc = yaml.safe_load(text)
        except yaml.YAMLError as exc:
            raise UserError(f"user database {self.path} is not valid YAML: {exc}") from None
        if doc is None:
            doc = {}
        if not isinstance(doc, dict):
            raise UserError(f"user database {self.path}: expected a mapping with a 'users' key")
        return doc, stamp

    def _load(self, loaded: tuple[dict[str, Any], tuple[int, int, int] | None]) -> None:
        """Validate a parsed document and make it current (all or nothing)."""
        doc, stamp = loaded
        raw_users = doc.get("users") or {}
        if not isinstance(raw_users, dict):
            raise UserError(f"user database {self.path}: 'users' must be a mapping")
        users: dict[str, dict[str, Any]] = {}
        for raw_name, raw_entry in raw_users.items():
            where = f"user database {self.path}, user {raw_name!r}"
            name = normalize_name(str(raw_name))
            if name in users:
                raise UserError(f"{where}: listed twice (names are case-insensitive)")
            if not isinstance(raw_entry, dict):
                raise UserError(f"{where}: expected a mapping with a 'password' key")
            hashed = raw_entry.get("password")
            if not isinstance(hashed, str) or self._context.identify(hashed) is None:
                raise UserError(
                    f"{where}: 'password' is not a recognised password hash"
                    " (plaintext is not accepted; set it with 'mailserver user passwd')"
                )
            secret = raw_entry.get("secret")
            if secret is not None and not isinstance(secret, str):
                raise UserError(f"{where}: 'secret' must be a string")
            aliases = raw_entry.get("aliases") or []
            if not isinstance(aliases, list):
                raise UserError(f"{where}: 'aliases' must be a list")
            users[name] = dict(raw_entry)
        alias_map: dict[str, str] = {}
        for name, entry in users.items():
            for raw_alias in entry.get("aliases") or []:
                alias = normalize_name(str(raw_alias))
                owner = alias_map.get(alias)
                if alias in users or (owner is not None and owner != name):
                    raise UserError(
                        f"user database {self.path}: alias {alias!r} of {name!r}"
                        " is already a user name or another user's alias"
                    )
                alias_map[alias] = name
        with self._lock:
            self._doc = doc
            self._users = users
            self._aliases = alias_map
            self._stamp = stamp

    def reload_if_changed(self, *, force: bool = False) -> bool:
        """Re-read the file if another process replaced it; True if it was reloaded.

        Cheap enough for every login: at most one ``stat`` per
        :attr:`RELOAD_INTERVAL` seconds (``force`` skips the throttle). A file
        that is broken (say, mid-edit by hand) keeps the previous contents in
        force and is logged, so a typo cannot lock everybody out.
        """
        now = time.monotonic()
        with self._lock:
            if not force and now - self._last_check < self.RELOAD_INTERVAL:
                return False
            self._last_check = now
            try:
                if self._stat() == self._stamp:
                    return False
                self._load(self._read())
            except UserError as exc:
                log.warning("keeping the previous user database: %s", exc)
                return False
            log.info("user database %s reloaded (%d users)", self.path, len(self._users))
            return True

    # ----------------------------------------------------------------- queries

    def names(self) -> list[str]:
        with self._lock:
            return sorted(self._users)

    def exists(self, name: str) -> bool:
        with self._lock:
            return name.lower() in self._users

    def password_hash(self, name: str) -> str | None:
        with self._lock:
            entry = self._users.get(name.lower())
            return None if entry is None else str(entry["password"])

    def plain_secret(self, name: str) -> str | None:
        """The plaintext-equivalent secret APOP / CRAM-MD5 need, if the user has one."""
        with self._lock:
            entry = self._users.get(name.lower())
            secret = None if entry is None else entry.get("secret")
            return secret if isinstance(secret, str) else None

    def aliases(self, name: str) -> list[str]:
        with self._lock:
            return sorted(a for a, owner in self._aliases.items() if owner == name.lower())

    def resolve_local_part(self, local: str) -> str | None:
        """Map a user name or alias to the user name; None for anything else (never raises)."""
        folded = local.lower()
        with self._lock:
            if folded in self._users:
                return folded
            return self._aliases.get(folded)

    # ----------------------------------------------------------------- hashing

    def hash_password(self, password: str) -> str:
        _check_password(password)
        return str(self._context.hash(password))

    def verify_hash(self, password: str, hashed: str) -> bool:
        """Check ``password`` against a stored hash; False (never an exception) on any problem.

        Blocking and CPU-bound: callers on the event loop run it in a thread.
        """
        if not password or len(password) > MAX_PASSWORD_LENGTH:
            return False
        try:
            return bool(self._context.verify(password, hashed))
        except MissingBackendError as exc:
            log.error("cannot verify a password hash: %s", exc)
            return False
        except (ValueError, TypeError) as exc:
            # Malformed or unidentifiable hash; the message never holds the password.
            log.warning("cannot verify a password hash: %s", exc)
            return False

    def dummy_hash(self) -> str:
        """A hash of a random password, so checks for unknown users cost the same."""
        with self._lock:
            if self._dummy_hash is None:
                self._dummy_hash = self.hash_password(secrets.token_urlsafe(16))
            return self._dummy_hash

    # ---------------------------------------------------------------- changing

    def add(
        self, name: str, password: str, *, plain_secret: bool = False, replace: bool = False
    ) -> None:
        """Create a user; with ``replace`` an existing user gets the new password instead."""
        name = normalize_name(name)
        _check_password(password)
        with self._changing():
            if name in self._users and not replace:
                raise UserError(f"user {name!r} already exists")
            self._check_not_alias(name)
            self._write({**self._users, name: self._new_entry(name, password, plain_secret)})

    def set_password(self, name: str, password: str, *, plain_secret: bool | None = None) -> None:
        """Change a password; ``plain_secret=None`` keeps the user's current choice."""
        name = normalize_name(name)
        _check_password(password)
        with self._changing():
            if name not in self._users:
                raise UserError(f"no such user {name!r}")
            self._write({**self._users, name: self._new_entry(name, password, plain_secret)})

    def delete(self, name: str) -> None:
        name = normalize_name(name)
        with self._changing():
            if name not in self._users:
                raise UserError(f"no such user {name!r}")
            self._write({n: e for n, e in self._users.items() if n != name})

    def add_many(
        self,
        entries: Iterable[tuple[str, str]],
        *,
        plain_secret: bool = False,
        replace: bool = False,
    ) -> list[str]:
        """Create (or with ``replace`` reset) many users with one file write.

        Idempotent: a user whose password already verifies (and whose secret
        already matches ``plain_secret``) is left alone, so running
        ``lab provision`` twice writes nothing the second time. Without
        ``replace``, an existing user with a *different* password keeps it: a
        student who changed their password keeps the new one until the
        instructor resets. Returns the names created or changed.
        """
        wanted: dict[str, str] = {}
        for raw_name, password in entries:
            name = normalize_name(raw_name)
            _check_password(password)
            if wanted.get(name, password) != password:
                raise UserError(f"user {name!r} is listed twice with different passwords")
            wanted[name] = password
        with self._changing():
            changes: dict[str, dict[str, Any]] = {}
            for name, password in wanted.items():
                self._check_not_alias(name)
                entry = self._users.get(name)
                if entry is not None:
                    if self._matches(entry, password, plain_secret):
                        continue
                    if not replace:
                        continue
                changes[name] = self._new_entry(name, password, plain_secret)
            if changes:
                self._write({**self._users, **changes})
            return list(changes)

    def delete_many(self, names: Iterable[str]) -> list[str]:
        """Delete every listed user that exists (one write); returns those actually deleted."""
        wanted = [normalize_name(n) for n in names]
        with self._changing():
            gone = [n for n in dict.fromkeys(wanted) if n in self._users]
            if gone:
                self._write({n: e for n, e in self._users.items() if n not in gone})
            return gone

    # ---------------------------------------------------------------- internals

    @contextlib.contextmanager
    def _changing(self) -> Iterator[None]:
        """Hold the database, across threads and processes, while one change is made.

        Every change starts from the file as it is now, not as this process
        last saw it, and the read-modify-write runs under an exclusive lock on
        a sibling ``.lock`` file: otherwise two ``mailserver user add`` runs
        (or a CLI and a long-running process) would each write back a copy
        that lacks the other's change.
        """
        with self._lock:
            try:
                self.path.parent.mkdir(parents=True, exist_ok=True)
                lock_fd = os.open(self._lock_path(), os.O_RDWR | os.O_CREAT, 0o600)
            except OSError as exc:
                raise UserError(f"cannot lock user database {self.path}: {exc.strerror}") from None
            try:
                fcntl.flock(lock_fd, fcntl.LOCK_EX)
                if self._stat() != self._stamp:
                    self._load(self._read())
                yield
            finally:
                os.close(lock_fd)

    def _lock_path(self) -> Path:
        return self.path.with_name(self.path.name + ".lock")

    def _check_not_alias(self, name: str) -> None:
        owner = self._aliases.get(name)
        if owner is not None:
            raise UserError(f"{name!r} is already an alias of user {owner!r}")

    def _matches(self, entry: dict[str, Any], password: str, plain_secret: bool) -> bool:
        secret = entry.get("secret")
        secret_ok = secret == password if plain_secret else secret is None
        return secret_ok and self.verify_hash(password, str(entry["password"]))

    def _new_entry(self, name: str, password: str, plain_secret: bool | None) -> dict[str, Any]:
        """A copy of the user's entry with a new hash; unknown keys and aliases survive."""
        entry = dict(self._users.get(name, {}))
        if plain_secret is None:
            plain_secret = "secret" in entry
        entry["password"] = self.hash_password(password)
        if plain_secret:
            entry["secret"] = password
        else:
            entry.pop("secret", None)
        return entry

    def _write(self, users: dict[str, dict[str, Any]]) -> None:
        """Atomically replace the file with ``users``; memory changes only if that worked.

        Temp file in the same folder, fsync, ``os.replace``, mode 0600 (the
        file holds hashes and maybe plaintext-equivalent secrets), then fsync
        of the folder so the rename itself survives a crash.
        """
        doc = dict(self._doc)
        doc["users"] = {name: users[name] for name in sorted(users)}
        text = yaml.safe_dump(doc, default_flow_style=False, sort_keys=False, allow_unicode=True)
        folder = self.path.parent
        try:
            folder.mkdir(parents=True, exist_ok=True)
            fd, tmp_name = tempfile.mkstemp(dir=folder, prefix=f".{self.path.name}.", suffix=".tmp")
        except OSError as exc:
            raise UserError(f"cannot write user database {self.path}: {exc.strerror}") from None
        try:
            with os.fdopen(fd, "w", encoding="utf-8") as fh:
                if hasattr(os, "fchmod"):
                    os.fchmod(fh.fileno(), 0o600)
                fh.write(text)
                fh.flush()
                os.fsync(fh.fileno())
            os.replace(tmp_name, self.path)
            _fsync_dir(folder)
        except OSError as exc:
            with contextlib.suppress(OSError):
                os.unlink(tmp_name)
            raise UserError(f"cannot write user database {self.path}: {exc.strerror}") from None
        self._load((doc, self._stat()))
