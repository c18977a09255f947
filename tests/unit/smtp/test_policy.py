"""Address parsing and recipient decisions, including the classic relay tricks."""

from __future__ import annotations

import pytest

from mailserver.smtp import replies
from mailserver.smtp.policy import (
    NULL_PATH,
    Accept,
    Address,
    RecipientPolicy,
    Reject,
    parse_mailbox,
    parse_path,
    parse_sender,
)

DOMAIN = "JServer.NetLab"
USERS = {"group1_1": "group1_1", "group1_2": "group1_2", "nick": "group1_1"}


def resolve(login: str) -> str | None:
    local, at, domain = login.rpartition("@")
    if not at:
        local = login
    elif domain.rstrip(".").lower() != DOMAIN.lower():
        return None
    return USERS.get(local.lower())


POLICY = RecipientPolicy(
    is_local_domain=lambda d: d.rstrip(".").lower() == DOMAIN.lower(),
    resolve=resolve,
    postmaster="postmaster",
)


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("<group1_1@JServer.NetLab>", ("group1_1@JServer.NetLab", "")),
        (" <group1_1@JServer.NetLab>", ("group1_1@JServer.NetLab", "")),
        ("group1_1@JServer.NetLab", ("group1_1@JServer.NetLab", "")),
        ("<a@b> SIZE=100 BODY=8BITMIME", ("a@b", "SIZE=100 BODY=8BITMIME")),
        ("a@b SIZE=100", ("a@b", "SIZE=100")),
        ("<>", (NULL_PATH, "")),
        ("<> SIZE=10", (NULL_PATH, "SIZE=10")),
        ("<Postmaster>", ("Postmaster", "")),
        ("<USER@LOCAL.>", ("USER@LOCAL", "")),
        ("<@local:user@remote>", ("user@remote", "")),
        ("<@a.example,@b.example:user@remote>", ("user@remote", "")),
        ('<"user@remote"@local>', ('"user@remote"@local', "")),
        ('<"a>b"@local>', ('"a>b"@local', "")),
        ("<user@remote@local>", ("user@remote@local", "")),
        ("<user%remote@local>", ("user%remote@local", "")),
        ("<user@[192.0.2.1]>", ("user@[192.0.2.1]", "")),
        ("<rémy@exämple.org>", ("rémy@exämple.org", "")),
    ],
)
def test_parse_path_accepts(text: str, expected: tuple[str, str]) -> None:
    assert parse_path(text) == expected


@pytest.mark.parametrize(
    "text",
    [
        "<a@b",
        "<a b@c>",
        "<a@>",
        "<@>",
        "<a@b..c>",
        "<a@-b_c!>",
        "<@local user@remote>",
        "<@:user@remote>",
        '<"unterminated@local>',
        '<"x"y@local>',
        "<a<b@c>",
        "<" + "a" * 300 + "@b>",
    ],
)
def test_parse_path_rejects(text: str) -> None:
    assert parse_path(text) is None


def test_parse_mailbox_keeps_quotes_and_strips_one_trailing_dot() -> None:
    assert parse_mailbox('"a b"@Example.ORG.') == Address('"a b"', "Example.ORG")
    assert parse_mailbox("postmaster") == Address("postmaster", None)


def test_parse_sender() -> None:
    assert parse_sender(NULL_PATH) == ""
    assert parse_sender("a@b.") == "a@b"


def decide(address: str, authenticated: bool = False) -> Accept | Reject:
    parsed = parse_path(f"<{address}>")
    assert parsed is not None, address
    return POLICY.decide(parsed[0], authenticated)


@pytest.mark.parametrize(
    ("address", "user"),
    [
        ("group1_1@JServer.NetLab", "group1_1"),
        ("GROUP1_2@jserver.netlab", "group1_2"),
        ("group1_2@JSERVER.NETLAB.", "group1_2"),
        ("nick@JServer.NetLab", "group1_1"),  # alias
        ('"group1_1"@JServer.NetLab', "group1_1"),  # quoting an ordinary name changes nothing
        ("group1_1", "group1_1"),  # no domain: a local name
        ("postmaster@JServer.NetLab", "postmaster"),
        ("PostMaster@jserver.netlab.", "postmaster"),
        ("Postmaster", "postmaster"),
        ("@other.example:group1_1@JServer.NetLab", "group1_1"),  # route dropped
    ],
)
def test_local_recipients_are_accepted(address: str, user: str) -> None:
    assert decide(address) == Accept(user, parse_path(f"<{address}>")[0])  # type: ignore[index]


def test_postmaster_goes_to_the_configured_account() -> None:
    policy = RecipientPolicy(POLICY.is_local_domain, resolve, postmaster="admin")
    assert policy.decide("postmaster@JServer.NetLab", False) == Accept(
        "admin", "postmaster@JServer.NetLab"
    )


def test_unknown_local_user() -> None:
    assert decide("nobody@JServer.NetLab") == Reject(replies.user_unknown("nobody@JServer.NetLab"))


@pytest.mark.parametrize("authenticated", [False, True])
@pytest.mark.parametrize(
    "address",
    [
        "someone@remote.example",
        "@JServer.NetLab:someone@remote.example",  # source route: judge the final address
        "group1_1@JServer.NetLab.remote.example",
        "group1_1@[192.0.2.1]",
    ],
)
def test_remote_recipients_need_relaying(address: str, authenticated: bool) -> None:
    decision = decide(address, authenticated)
    if authenticated and "[" not in address:
        assert decision == Accept(None, address.rpartition(":")[2])
    else:
        assert decision == Reject(replies.RELAY_DENIED)


@pytest.mark.parametrize("authenticated", [False, True])
@pytest.mark.parametrize(
    "address",
    [
        "someone%remote.example@JServer.NetLab",  # percent hack
        "remote.example!someone@JServer.NetLab",  # bang path
        "someone@remote.example@JServer.NetLab",  # two at-signs
    ],
)
def test_relay_tricks_in_the_local_part_are_refused(address: str, authenticated: bool) -> None:
    assert decide(address, authenticated) == Reject(replies.RELAY_DENIED)


def test_quoted_local_part_with_at_sign_is_an_unknown_user() -> None:
    assert decide('"someone@remote.example"@JServer.NetLab') == Reject(
        replies.user_unknown('"someone@remote.example"@JServer.NetLab')
    )


def test_percent_in_a_real_user_name_is_delivered() -> None:
    policy = RecipientPolicy(
        POLICY.is_local_domain,
        lambda login: "odd%name" if login.lower().startswith("odd%name") else None,
        "postmaster",
    )
    assert policy.decide("odd%name@JServer.NetLab", False) == Accept(
        "odd%name", "odd%name@JServer.NetLab"
    )


def test_null_recipient_is_refused() -> None:
    assert POLICY.decide(NULL_PATH, False) == Reject(replies.NULL_RECIPIENT)


# ------------------------------------------------ sender ownership (submission)


@pytest.mark.parametrize(
    "sender",
    [
        "group1_1@JServer.NetLab",
        "GROUP1_1@jserver.netlab",
        "group1_1@JServer.NetLab.",
        "nick@JServer.NetLab",  # an alias of group1_1
        '"group1_1"@JServer.NetLab',
    ],
)
def test_own_addresses_belong_to_the_user(sender: str) -> None:
    assert POLICY.owns("group1_1", sender)


@pytest.mark.parametrize(
    "sender",
    [
        "group1_2@JServer.NetLab",  # someone else
        "group1_1@remote.example",  # right name, foreign domain
        "group1_1",  # no domain
        NULL_PATH,
        '"group1_1@remote"@JServer.NetLab',
        "group1_1%remote@JServer.NetLab",
        "group1_1@remote@JServer.NetLab",
        "not an address",
    ],
)
def test_other_senders_do_not_belong_to_the_user(sender: str) -> None:
    assert not POLICY.owns("group1_1", sender)
