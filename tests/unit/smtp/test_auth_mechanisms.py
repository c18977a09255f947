"""AUTH PLAIN / LOGIN exchanges against a real user database, with a scripted client."""

from __future__ import annotations

import base64
from collections.abc import Iterator
from pathlib import Path

import pytest

from mailserver.auth import Authenticator, SaslError, UserDatabase
from mailserver.smtp import replies
from mailserver.smtp.auth import Cancelled, Outcome, run_mechanism


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
    authenticator = Authenticator(users, ["JServer.NetLab"])
    yield authenticator
    authenticator.close()


async def run(
    auth: Authenticator, mechanism: str, client: ScriptedClient, initial: str | None = None
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
    outcome = await run(auth, "CRAM-MD5", ScriptedClient())
    assert outcome == Outcome(replies.AUTH_UNKNOWN_MECHANISM)
