"""URLAUTH's protocol-neutral parts: URL splitting, access identifiers, EXPIRE, keys."""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest

from mailserver.imapurl import BadUrl
from mailserver.urlauth import AccessKeys, may_use, parse_authorized, token, verify

RUMP = "imap://fred@example.org/INBOX;UIDVALIDITY=7/;UID=3;URLAUTH=submit+fred"


def test_rump_access_and_token_are_split() -> None:
    auth = parse_authorized(RUMP + ":internal:00ff")
    assert (auth.rump, auth.access, auth.mechanism, auth.token) == (
        RUMP, "submit+fred", "internal", "00ff"
    )  # fmt: skip
    assert auth.url.user == "fred" and auth.url.uid == 3 and auth.url.uidvalidity == 7
    expiring = parse_authorized(
        "imap://fred@h/INBOX;UIDVALIDITY=7/;UID=3;EXPIRE=2030-01-02T03:04:05+01:00;URLAUTH=anonymous"
    )
    assert expiring.expire == 1893549845.0  # 2030-01-02T02:04:05Z
    for bad in (
        "/INBOX;UIDVALIDITY=7/;UID=3;URLAUTH=anonymous",  # relative: no owner
        "imap://fred@h/INBOX/;UID=3;URLAUTH=anonymous",  # no UIDVALIDITY
        "imap://fred@h/INBOX;UIDVALIDITY=7/;UID=3;URLAUTH=nobody",
        "imap://fred@h/INBOX;UIDVALIDITY=7/;UID=3;EXPIRE=soon;URLAUTH=anonymous",
    ):
        with pytest.raises(BadUrl):
            parse_authorized(bad)


@pytest.mark.parametrize(
    ("access", "user", "submission", "allowed"),
    [
        ("anonymous", None, False, True),
        ("authuser", None, False, False),
        ("authuser", "joe", True, True),
        ("submit+fred", "fred", True, True),
        ("submit+fred", "fred", False, False),
        ("submit+fred", "joe", True, False),
        ("user+fred", "fred", False, True),
        ("user+fred", "fred", True, False),
        ("user+fred", "joe", False, False),
    ],
)
def test_access_identifiers(access: str, user: str | None, submission: bool, allowed: bool) -> None:
    assert may_use(access, user=user, submission=submission) is allowed


def test_keys_sign_verify_and_reset(tmp_path: Path) -> None:
    keys = AccessKeys(tmp_path / "urlauth")

    async def run() -> None:
        assert await keys.key("fred", "INBOX", create=False) is None
        key = await keys.key("fred", "INBOX", create=True)
        assert key is not None and len(key) == 32
        assert await keys.key("fred", "INBOX", create=True) == key  # stable
        url = f"{RUMP}:internal:{token(key, RUMP)}"
        assert (await verify(keys, url, user="fred", submission=True)).uid == 3
        await keys.reset("fred", "INBOX")
        with pytest.raises(BadUrl):
            await verify(keys, url, user="fred", submission=True)
        with pytest.raises(BadUrl):
            await keys.key("../etc", "INBOX", create=True)

    asyncio.run(run())
