"""AUTH PLAIN / LOGIN exchanges against a real user database, with a scripted client."""

from __future__ import annotations

import base64
import hashlib
import hmac
from collections.abc import Iterator
from pathlib import Path

import pytest

from mailserver.auth import Authenticator, SaslError, UserDatabase
from mailserver.auth.throttle import ThrottlePolicy
from mailserver.smtp import replies
from mailserver.smtp.auth import Cancelled, Exchange, Outcome, run_mechanism


def b64(text: str | bytes) -> str:
    data = text.encode() if isinstance(text, str) else text
    return base64.b64encode(data).decode()


class ScriptedClient:
    """Answers challenges from a list; records what was asked."""

    def __init__(self, *answers: str) -> None:
        self.answers = list(answers)
        self.asked: list[str] = []

    async def ask(self, challenge: str) -> str:
        self.asked.append(challenge)
        answer = self.answers.pop(0)
        if answer == "*":
            raise Cancelled
        if answer == "TOO LONG":
            raise SaslError("response too long")
        return answer


@pytest.fixture
def auth(tmp_path: Path) -> Iterator[Authenticator]:
    users = UserDatabase(tmp_path / "users.yaml")
    users.add("group1_1", "group1_1", plain_secret=True)
    users.add("group1_2", "group1_2", plain_secret=True)
    users.add("bob", "bob-secret-pw")  # hash only: no CRAM-MD5
    authenticator = Authenticator(users, ["JServer.NetLab"])
    yield authenticator
    authenticator.close()


async def run(
    auth: Authenticator, mechanism: str, client: Exchange, initial: str | None = None
) -> Outcome:
    return await run_mechanism(mechanism, client, initial, auth)


async def test_login_as_in_exercise_2(auth: Authenticator) -> None:
    client = ScriptedClient(b64("group1_1"), b64("group1_1"))
    outcome = await run(auth, "login", client)
    assert client.asked == ["VXNlcm5hbWU6", "UGFzc3dvcmQ6"]
    assert outcome == Outcome(replies.AUTH_OK, user="group1_1", login="group1_1")


async def test_login_with_full_address_and_initial_response(auth: Authenticator) -> None:
    client = ScriptedClient(b64("group1_2"))
    outcome = await run(auth, "LOGIN", client, initial=b64("group1_2@JServer.NetLab"))
    assert client.asked == ["UGFzc3dvcmQ6"]
    assert outcome.user == "group1_2"


async def test_login_wrong_password(auth: Authenticator) -> None:
    outcome = await run(auth, "LOGIN", ScriptedClient(b64("group1_1"), b64("nope")))
    assert outcome == Outcome(replies.AUTH_FAILED, login="group1_1")


async def test_login_plain_text_instead_of_base64(auth: Authenticator) -> None:
    client = ScriptedClient("group1_1 is my name!")
    outcome = await run(auth, "LOGIN", client)
    assert outcome.user is None
    assert outcome.reply.startswith("501 5.5.2 ")
    assert client.asked == ["VXNlcm5hbWU6"]  # no password prompt after garbage


async def test_login_cancelled(auth: Authenticator) -> None:
    outcome = await run(auth, "LOGIN", ScriptedClient(b64("group1_1"), "*"))
    assert outcome == Outcome(replies.AUTH_CANCELLED)


async def test_overlong_answer(auth: Authenticator) -> None:
    outcome = await run(auth, "LOGIN", ScriptedClient("TOO LONG"))
    assert outcome.reply.startswith("501 5.5.2 ")


async def test_plain_with_initial_response(auth: Authenticator) -> None:
    client = ScriptedClient()
    outcome = await run(auth, "plain", client, initial=b64("\0group1_1\0group1_1"))
    assert client.asked == []
    assert outcome == Outcome(replies.AUTH_OK, user="group1_1", login="group1_1")


async def test_plain_after_empty_challenge(auth: Authenticator) -> None:
    client = ScriptedClient(b64("\0group1_2@jserver.netlab\0group1_2"))
    outcome = await run(auth, "PLAIN", client)
    assert client.asked == [""]
    assert outcome.user == "group1_2"


async def test_plain_authzid_must_be_the_same_user(auth: Authenticator) -> None:
    same = await run(auth, "PLAIN", ScriptedClient(), b64("group1_1\0group1_1\0group1_1"))
    assert same.user == "group1_1"
    other = await run(auth, "PLAIN", ScriptedClient(), b64("group1_2\0group1_1\0group1_1"))
    assert other.reply == replies.AUTH_FAILED and other.user is None


@pytest.mark.parametrize("initial", ["=", "!!!", b64("no-nul-here"), b64("\0\0")])
async def test_plain_malformed(auth: Authenticator, initial: str) -> None:
    outcome = await run(auth, "PLAIN", ScriptedClient(), initial)
    assert outcome.user is None
    assert outcome.reply.startswith("501 5.5.2 ")


async def test_unknown_mechanism(auth: Authenticator) -> None:
    outcome = await run(auth, "DIGEST-MD5", ScriptedClient())
    assert outcome == Outcome(replies.AUTH_UNKNOWN_MECHANISM)


def cram_answer(challenge_b64: str, login: str, secret: str) -> str:
    challenge = base64.b64decode(challenge_b64)
    digest = hmac.new(secret.encode(), challenge, hashlib.md5).hexdigest()
    return b64(f"{login} {digest}")


class CramClient:
    """Answers the CRAM-MD5 challenge it is given, the way a mail client does."""

    def __init__(self, login: str, secret: str) -> None:
        self.login = login
        self.secret = secret
        self.asked: list[str] = []

    async def ask(self, challenge: str) -> str:
        self.asked.append(challenge)
        return cram_answer(challenge, self.login, self.secret)


async def test_cram_md5(auth: Authenticator) -> None:
    client = CramClient("group1_1", "group1_1")
    outcome = await run_mechanism("cram-md5", client, None, auth, "192.0.2.1", "JServer.NetLab")
    assert outcome == Outcome(replies.AUTH_OK, user="group1_1", login="group1_1")
    [challenge] = client.asked
    text = base64.b64decode(challenge).decode()
    assert text.startswith("<") and text.endswith("@JServer.NetLab>")


async def test_cram_md5_challenges_are_fresh(auth: Authenticator) -> None:
    client = CramClient("group1_1", "group1_1")
    for _ in range(2):
        await run_mechanism("CRAM-MD5", client, None, auth, None, "JServer.NetLab")
    assert client.asked[0] != client.asked[1]


async def test_cram_md5_wrong_secret(auth: Authenticator) -> None:
    outcome = await run(auth, "CRAM-MD5", CramClient("group1_1", "wrong"))
    assert outcome == Outcome(replies.AUTH_FAILED, login="group1_1")


async def test_cram_md5_without_a_plain_secret_fails_cleanly(auth: Authenticator) -> None:
    outcome = await run(auth, "CRAM-MD5", CramClient("bob", "bob-secret-pw"))
    assert outcome == Outcome(replies.AUTH_FAILED, login="bob")


@pytest.mark.parametrize("answer", ["group1_1", b64("group1_1"), b64("group1_1 xyz"), "*"])
async def test_cram_md5_malformed_or_cancelled(auth: Authenticator, answer: str) -> None:
    outcome = await run(auth, "CRAM-MD5", ScriptedClient(answer))
    assert outcome.user is None
    assert outcome.reply.startswith("501 ")


async def test_cram_md5_refuses_an_initial_response(auth: Authenticator) -> None:
    client = ScriptedClient()
    outcome = await run(auth, "CRAM-MD5", client, b64("group1_1 " + "0" * 32))
    assert outcome.reply == "501 5.5.2 CRAM-MD5 takes no initial response"
    assert client.asked == []


async def test_failures_reach_the_throttle_with_the_client_address(auth: Authenticator) -> None:
    """Every mechanism feeds the login throttle with the peer's IP, CRAM-MD5 too."""
    auth.throttle.policy = ThrottlePolicy(free_failures=10, block_after=3, block_seconds=60)
    await run_mechanism("PLAIN", ScriptedClient(), b64("\0group1_1\0bad"), auth, "192.0.2.9")
    await run_mechanism("LOGIN", ScriptedClient(b64("bad")), b64("group1_1"), auth, "192.0.2.9")
    assert not auth.throttle.is_blocked("192.0.2.9")
    await run_mechanism("CRAM-MD5", CramClient("group1_1", "bad"), None, auth, "192.0.2.9")
    assert auth.throttle.is_blocked("192.0.2.9")
    # Blocked: even the right secret is refused from that address, not from others.
    right = CramClient("group1_1", "group1_1")
    assert (await run_mechanism("CRAM-MD5", right, None, auth, "192.0.2.9")).user is None
    assert (await run_mechanism("CRAM-MD5", right, None, auth, "192.0.2.10")).user == "group1_1"
