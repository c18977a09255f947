"""URLAUTH (RFC 4467): IMAP URLs that carry their own authorization, for BURL.

A user asks IMAP for ``GENURLAUTH "imap://fred@host/Drafts;UIDVALIDITY=7/;UID=3;
URLAUTH=submit+fred" INTERNAL`` and gets the URL back with ``:internal:<token>``
appended; the token is an HMAC-SHA256 of the URL up to the access identifier
(the "rump"), keyed with a random per-user, per-mailbox *mailbox access key*.
Whoever holds the URL may then fetch that message (IMAP ``URLFETCH``, SMTP
``BURL``) as far as the access identifier allows, until the user resets the
key (``RESETKEY``) or the URL's ``EXPIRE`` passes.

Protocol-neutral, so that both the IMAP and the SMTP side use it without
importing each other: keys live in ``data_dir/urlauth/<user>.json`` (mode
0600, replaced atomically and fsync'd), and :func:`fetch_message` reads the
message through the store. A ``SECTION`` needs a MIME parser, which lives
with IMAP: callers pass one as ``extract`` (SMTP passes none and such URLs
are refused there).
"""

from __future__ import annotations

import asyncio
import calendar
import hashlib
import hmac
import json
import os
import re
import secrets
import threading
import time
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass
from pathlib import Path

from mailserver.imapurl import BadUrl, ImapUrl, parse_imap_url
from mailserver.storage import Folder, MailStore, StorageError

#: The only mechanism (RFC 4467 7: every server supports INTERNAL).
INTERNAL = "INTERNAL"
#: Octets of a mailbox access key (RFC 4467 7: at least 128 bits).
KEY_BYTES = 32
_AUTH = re.compile(
    r"(?P<expire>;EXPIRE=[^;]+)?;URLAUTH=(?P<access>(?:submit\+|user\+)[^:;]+|authuser|anonymous)"
    r"(?::(?P<mechanism>[A-Za-z0-9.-]+):(?P<token>[0-9A-Fa-f]+))?",
    re.IGNORECASE,
)
_EXPIRE = re.compile(
    r";EXPIRE=(\d{4})-(\d\d)-(\d\d)T(\d\d):(\d\d):(\d\d)(?:\.\d+)?(Z|[+-]\d\d:\d\d)", re.I
)
#: A SECTION extractor: (whole message, section text) -> the part's octets, None if none.
Extractor = Callable[[bytes, str], bytes | None]


@dataclass(frozen=True)
class Authorized:
    """A parsed URLAUTH URL: the message URL, its rump, who may use it and its token."""

    url: ImapUrl
    rump: str
    access: str
    expire: float | None
    mechanism: str | None
    token: str | None


def parse_authorized(text: str) -> Authorized:
    """Split a URLAUTH URL (rump, or rump with ``:mech:token``); :class:`BadUrl` if not one."""
    url = parse_imap_url(text)
    match = _AUTH.fullmatch(url.rest)
    if url.user is None or url.uidvalidity is None or match is None:
        raise BadUrl("Not a URLAUTH URL of a message")
    end = len(text) - len(url.rest) + match.end("access")
    expire = None
    if match.group("expire"):
        expire = _expire_time(match.group("expire"))
    return Authorized(
        url=url,
        rump=text[:end],
        access=match.group("access"),
        expire=expire,
        mechanism=match.group("mechanism"),
        token=match.group("token"),
    )


def _expire_time(text: str) -> float:
    match = _EXPIRE.fullmatch(text)
    if match is None:
        raise BadUrl("Bad EXPIRE")
    y, mo, d, h, mi, s, zone = match.groups()
    when = calendar.timegm((int(y), int(mo), int(d), int(h), int(mi), int(s), 0, 0, 0))
    if zone != "Z":
        sign = 1 if zone[0] == "+" else -1
        when -= sign * (int(zone[1:3]) * 3600 + int(zone[4:6]) * 60)
    return float(when)


def token(key: bytes, rump: str) -> str:
    return hmac.new(key, rump.encode("utf-8"), hashlib.sha256).hexdigest()


class AccessKeys:
    """Mailbox access keys per user, in ``root/<user>.json``."""

    def __init__(self, root: Path) -> None:
        self.root = Path(root)
        self._lock = threading.Lock()

    @classmethod
    def under(cls, data_dir: Path) -> AccessKeys:
        return cls(Path(data_dir) / "urlauth")

    async def key(self, user: str, mailbox: str, create: bool) -> bytes | None:
        return await asyncio.to_thread(self._key_blocking, user, mailbox, create)

    async def reset(self, user: str, mailbox: str | None) -> None:
        """A new key for ``mailbox`` (every mailbox when None): old URLs stop working."""
        await asyncio.to_thread(self._reset_blocking, user, mailbox)

    def _path(self, user: str) -> Path:
        if not user or "/" in user or user.startswith("."):
            raise BadUrl("Bad user")
        return self.root / f"{user}.json"

    def _load(self, user: str) -> dict[str, str]:
        try:
            data = json.loads(self._path(user).read_text("utf-8"))
        except FileNotFoundError:
            return {}
        return {str(k): str(v) for k, v in data.items()} if isinstance(data, dict) else {}

    def _save(self, user: str, keys: dict[str, str]) -> None:
        self.root.mkdir(mode=0o700, parents=True, exist_ok=True)
        path = self._path(user)
        temp = path.with_suffix(f".tmp{os.getpid()}")
        fd = os.open(temp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        try:
            os.write(fd, json.dumps(keys, sort_keys=True).encode())
            os.fsync(fd)
        finally:
            os.close(fd)
        os.replace(temp, path)
        dir_fd = os.open(self.root, os.O_RDONLY)
        try:
            os.fsync(dir_fd)
        finally:
            os.close(dir_fd)

    def _key_blocking(self, user: str, mailbox: str, create: bool) -> bytes | None:
        with self._lock:
            keys = self._load(user)
            if mailbox not in keys:
                if not create:
                    return None
                keys[mailbox] = secrets.token_hex(KEY_BYTES)
                self._save(user, keys)
            return bytes.fromhex(keys[mailbox])

    def _reset_blocking(self, user: str, mailbox: str | None) -> None:
        with self._lock:
            keys = self._load(user)
            if mailbox is None:
                keys = {}
            else:
                keys.pop(mailbox, None)
            self._save(user, keys)


def may_use(access: str, *, user: str | None, submission: bool) -> bool:
    """RFC 4467 3: may this requester use a URL with this access identifier?

    ``user`` is the logged-in user (None: anonymous); ``submission`` is True for
    the message submission server (BURL) acting for ``user``.
    """
    lowered = access.lower()
    if lowered == "anonymous":
        return True
    if lowered == "authuser":
        return user is not None
    if lowered.startswith("submit+"):
        return submission and user is not None and access[7:] == user
    if lowered.startswith("user+"):
        return not submission and user is not None and access[5:] == user
    return False


async def verify(keys: AccessKeys, text: str, *, user: str | None, submission: bool) -> ImapUrl:
    """The message URL of a valid, usable URLAUTH URL; :class:`BadUrl` otherwise."""
    auth = parse_authorized(text)
    if auth.mechanism is None or auth.token is None or auth.mechanism.upper() != INTERNAL:
        raise BadUrl("No URLAUTH token")
    if auth.expire is not None and auth.expire <= time.time():
        raise BadUrl("Expired")
    if not may_use(auth.access, user=user, submission=submission):
        raise BadUrl("Not for this user")
    assert auth.url.user is not None
    key = await keys.key(auth.url.user, auth.url.mailbox, create=False)
    if key is None or not hmac.compare_digest(token(key, auth.rump), auth.token.lower()):
        raise BadUrl("Bad token")
    return auth.url


async def _folder_holding(store: MailStore, owner: str, url: ImapUrl) -> Folder:
    """The folder of ``owner`` that ``url`` names, if it still holds the message
    (same UIDVALIDITY, UID present); :class:`BadUrl` if not. Storage errors pass."""
    mailbox = await store.mailbox(owner)
    folder = await mailbox.folder(url.mailbox)
    snapshot = await folder.snapshot()
    if url.uidvalidity not in (None, snapshot.uidvalidity) or snapshot.find(url.uid) is None:
        raise BadUrl("No such message")
    return folder


async def fetch_message(
    store: MailStore, owner: str, url: ImapUrl, extract: Extractor | None = None
) -> bytes:
    """The octets ``url`` names in ``owner``'s store; :class:`BadUrl` if there are none."""
    try:
        data = await (await _folder_holding(store, owner, url)).read(url.uid)
    except StorageError:
        raise BadUrl("No such message") from None
    if url.section is not None:
        if extract is None:
            raise BadUrl("Sections are not supported here")
        part = extract(data, url.section)
        if part is None:
            raise BadUrl("No such section")
        data = part
    if url.partial is not None:
        start, length = url.partial
        data = data[start:] if length is None else data[start : start + length]
    return data


async def message_chunks(store: MailStore, owner: str, url: ImapUrl) -> AsyncIterator[bytes]:
    """The octets ``url`` names, from the message file in chunks (a whole message or a
    ``PARTIAL`` of it; not a ``SECTION``): a 70 MiB draft never sits in memory.
    :class:`BadUrl` if there are none, before the first chunk."""
    if url.section is not None:
        raise BadUrl("Sections are not supported here")
    try:
        stream = await (await _folder_holding(store, owner, url)).open_message(url.uid)
    except StorageError:
        raise BadUrl("No such message") from None
    start, length = url.partial if url.partial is not None else (0, None)
    async with stream:
        async for chunk in stream.chunks(start, length):
            yield chunk
