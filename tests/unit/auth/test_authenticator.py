"""Logins as the protocols see them: names, addresses, aliases, caching, APOP and CRAM-MD5."""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest
import yaml

from mailserver.auth import Authenticator, UserDatabase, make_cram_md5_challenge
from mailserver.auth import authenticator as authenticator_module

DOMAINS = ("JServer.NetLab", "example.org")


class CountingAuthenticator(Authenticator):
    """Counts the expensive verifications (and where they ran), instead of timing them."""

    def __init__(self, users: UserDatabase, domains: tuple[str, ...]) -> None:
        super().__init__(users, domains)
        self.verifies = 0
        self.threads: set[str] = set()

    def _verify(self, password: str, hashed: str) -> bool:
        self.verifies += 1
        self.threads.add(threading.current_thread().name)
        return super()._verify(password, hashed)


@pytest.fixture
def users(tmp_path: Path) -> UserDatabase:
    db = UserDatabase(tmp_path / "users.yaml")
    db.add("group1_1", "group1_1")
    db.add("tim", "tanstaaftanstaaf", plain_secret=True)
    db.add("mrose", "tanstaaf", plain_secret=True)
    doc = yaml.safe_load(db.path.read_text())
    doc["users"]["group1_1"]["aliases"] = ["nick"]
    db.path.write_text(yaml.safe_dump(doc))
    db.reload_if_changed(force=True)
    db.RELOAD_INTERVAL = 0.0
    return db


@pytest.fixture
def auth(users: UserDatabase) -> Iterator[CountingAuthenticator]:
    authenticator = CountingAuthenticator(users, DOMAINS)
    yield authenticator
    authenticator.close()


@pytest.mark.parametrize(
    "login",
    [
        "group1_1",
        "GROUP1_1",
        "nick",
        "group1_1@JServer.NetLab",
        "Group1_1@jserver.netlab",
        "group1_1@JSERVER.NETLAB.",
        "nick@example.org",
    ],
)
def test_resolve_accepts(auth: Authenticator, login: str) -> None:
    assert auth.resolve(login) == "group1_1"


@pytest.mark.parametrize(
    "login",
    ["group1_1@elsewhere.net", "nobody", "nobody@JServer.NetLab", "", "@JServer.NetLab", "a b"],
)
def test_resolve_rejects(auth: Authenticator, login: str) -> None:
    assert auth.resolve(login) is None


@pytest.mark.parametrize(
    "login", ["group1_1", "group1_1@JServer.NetLab", "GROUP1_1@jserver.netlab", "nick"]
)
async def test_authenticate_success(auth: CountingAuthenticator, login: str) -> None:
    assert await auth.authenticate(login, "group1_1") == "group1_1"


async def test_other_domain_rejected(auth: CountingAuthenticator) -> None:
    assert await auth.authenticate("group1_1@elsewhere.net", "group1_1") is None


async def test_wrong_password(auth: CountingAuthenticator) -> None:
    assert await auth.authenticate("group1_1", "wrong") is None
    assert await auth.authenticate("group1_1", "GROUP1_1") is None
    assert auth.verifies == 2


async def test_unknown_user_costs_one_verify(auth: CountingAuthenticator) -> None:
    assert await auth.authenticate("nobody", "group1_1") is None
    assert await auth.authenticate("group1_1@elsewhere.net", "group1_1") is None
    # Same work as a wrong password: a verify against the dummy hash.
    assert auth.verifies == 2


async def test_verify_runs_off_the_event_loop(auth: CountingAuthenticator) -> None:
    await asyncio.gather(*(auth.authenticate("group1_1", f"try{i}") for i in range(6)))
    assert auth.verifies == 6
    assert threading.current_thread().name not in auth.threads
    assert all(name.startswith("auth-verify") for name in auth.threads)
    assert len(auth.threads) <= authenticator_module.VERIFY_WORKERS


async def test_cache_hit_skips_second_verify(auth: CountingAuthenticator) -> None:
    assert await auth.authenticate("group1_1", "group1_1") == "group1_1"
    assert await auth.authenticate("group1_1@JServer.NetLab", "group1_1") == "group1_1"
    assert await auth.authenticate("nick", "group1_1") == "group1_1"
    assert auth.verifies == 1
    # A wrong password is never answered from the cache.
    assert await auth.authenticate("group1_1", "wrong") is None
    assert auth.verifies == 2


async def test_cache_keeps_no_plaintext(auth: CountingAuthenticator) -> None:
    await auth.authenticate("group1_1", "group1_1")
    for (user, mac), stored in auth._cache.items():
        assert user == "group1_1"
        assert b"group1_1" not in mac
        assert stored == auth._users.password_hash("group1_1")


async def test_cache_invalidated_on_password_change(
    auth: CountingAuthenticator, users: UserDatabase
) -> None:
    assert await auth.authenticate("group1_1", "group1_1") == "group1_1"
    UserDatabase(users.path).set_password("group1_1", "fresh")  # from the CLI
    assert await auth.authenticate("group1_1", "group1_1") is None
    assert auth.verifies == 2
    assert await auth.authenticate("group1_1", "fresh") == "group1_1"
    assert await auth.authenticate("group1_1", "fresh") == "group1_1"
    assert auth.verifies == 3


async def test_cache_invalidated_even_for_same_password(
    auth: CountingAuthenticator, users: UserDatabase
) -> None:
    await auth.authenticate("group1_1", "group1_1")
    users.set_password("group1_1", "group1_1")  # new salt, new hash
    assert await auth.authenticate("group1_1", "group1_1") == "group1_1"
    assert auth.verifies == 2


async def test_deleted_user_cannot_use_cache(
    auth: CountingAuthenticator, users: UserDatabase
) -> None:
    await auth.authenticate("group1_1", "group1_1")
    UserDatabase(users.path).delete("group1_1")
    assert await auth.authenticate("group1_1", "group1_1") is None


async def test_cache_is_bounded(
    auth: CountingAuthenticator, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(authenticator_module, "CACHE_SIZE", 2)
    for login in ("group1_1", "tim", "mrose"):
        password = {"group1_1": "group1_1", "tim": "tanstaaftanstaaf", "mrose": "tanstaaf"}[login]
        assert await auth.authenticate(login, password) == login
    assert len(auth._cache) == 2
    assert await auth.authenticate("group1_1", "group1_1") == "group1_1"  # evicted, re-verified
    assert auth.verifies == 4


async def test_new_user_seen_without_restart(
    auth: CountingAuthenticator, users: UserDatabase
) -> None:
    assert await auth.authenticate("group2_1", "group2_1") is None
    UserDatabase(users.path).add_many([("group2_1", "group2_1")])
    assert await auth.authenticate("group2_1@jserver.netlab", "group2_1") == "group2_1"


async def test_empty_password_fails(auth: CountingAuthenticator) -> None:
    assert await auth.authenticate("group1_1", "") is None
    assert await auth.authenticate("nobody", "") is None


# RFC 1939 section 7 example.
APOP_BANNER = "<1896.697170952@dbc.mtview.ca.us>"
APOP_DIGEST = "c4c9334bac560ecc979e58001b3e22fb"

# RFC 2195 section 2 example.
CRAM_CHALLENGE = b"<1896.697170952@postoffice.reston.mci.net>"
CRAM_DIGEST = "b913a602c7eda7a495b4e6e7334d3890"


def test_plain_secret(auth: Authenticator) -> None:
    assert auth.plain_secret("tim") == "tanstaaftanstaaf"
    assert auth.plain_secret("group1_1") is None
    assert auth.plain_secret("nobody") is None


def test_apop_rfc1939_example(auth: Authenticator) -> None:
    assert auth.verify_apop("mrose", APOP_BANNER, APOP_DIGEST) == "mrose"
    assert auth.verify_apop("mrose@example.org", APOP_BANNER, APOP_DIGEST.upper()) == "mrose"


def test_apop_failures(auth: Authenticator) -> None:
    assert auth.verify_apop("mrose", APOP_BANNER, "0" * 32) is None
    assert auth.verify_apop("mrose", "<other@banner>", APOP_DIGEST) is None
    assert auth.verify_apop("nobody", APOP_BANNER, APOP_DIGEST) is None
    assert auth.verify_apop("mrose", APOP_BANNER, "não-hex") is None
    # No stored secret: APOP is impossible, whatever the digest.
    assert auth.verify_apop("group1_1", APOP_BANNER, APOP_DIGEST) is None


def test_cram_md5_rfc2195_example(auth: Authenticator) -> None:
    assert auth.verify_cram_md5("tim", CRAM_CHALLENGE, CRAM_DIGEST) == "tim"
    assert auth.verify_cram_md5("TIM@JServer.NetLab", CRAM_CHALLENGE, CRAM_DIGEST) == "tim"


def test_cram_md5_failures(auth: Authenticator) -> None:
    assert auth.verify_cram_md5("tim", CRAM_CHALLENGE, "f" * 32) is None
    assert auth.verify_cram_md5("tim", make_cram_md5_challenge("h"), CRAM_DIGEST) is None
    assert auth.verify_cram_md5("nobody", CRAM_CHALLENGE, CRAM_DIGEST) is None
    assert auth.verify_cram_md5("group1_1", CRAM_CHALLENGE, CRAM_DIGEST) is None
