"""Lab exercise 3 typed byte for byte on a raw socket, in lower and in upper case."""

from __future__ import annotations

import re
from collections.abc import Callable

import pytest

from tests.integration.pop3.conftest import RawPop3, deliver, inbox, make_message
from tests.support.server import ServerProcess

GREETING = r"\+OK POP3 server ready <\d+\.\d+\.\d+@JServer\.NetLab>"


@pytest.mark.parametrize("case", [str.lower, str.upper], ids=["lower", "upper"])
def test_exercise_3_as_typed(mail_server: ServerProcess, case: Callable[[str], str]) -> None:
    messages = [make_message(n) for n in range(1, 6)]
    deliver(mail_server, "group1_1", messages)
    sizes = [len(m) for m in messages]
    total = sum(sizes)

    def typed(command: str) -> str:
        verb, _, rest = command.partition(" ")
        return case(verb) + (" " + rest if rest else "")

    pop3 = RawPop3(mail_server.ports["pop3"])
    pop3.expect(GREETING)
    pop3.send(typed("user group1_1"))
    pop3.expect(r"\+OK")
    pop3.send(typed("pass group1_1"))
    pop3.expect(rf"\+OK 5 messages \({total} octets\)")
    pop3.send(typed("stat"))
    pop3.expect(rf"\+OK 5 {total}")

    pop3.send(typed("uidl"))
    pop3.expect(r"\+OK")
    uidl = pop3.multiline().decode().splitlines()
    assert [line.split(" ")[0] for line in uidl] == ["1", "2", "3", "4", "5"]
    ids = [line.split(" ")[1] for line in uidl]
    assert len(set(ids)) == 5
    assert all(re.fullmatch(r"[\x21-\x7e]{1,70}", uid) for uid in ids)

    pop3.send(typed("list"))
    pop3.expect(rf"\+OK 5 messages \({total} octets\)")
    assert pop3.multiline().decode().splitlines() == [
        f"{n} {size}" for n, size in enumerate(sizes, start=1)
    ]

    pop3.send(typed("top 1 0"))
    pop3.expect(r"\+OK.*")
    header = messages[0].split(b"\r\n\r\n")[0] + b"\r\n\r\n"
    assert pop3.multiline() == header

    pop3.send(typed("retr 1"))
    pop3.expect(rf"\+OK {sizes[0]} octets")
    assert pop3.multiline() == messages[0]

    pop3.send(typed("dele 1"))
    pop3.expect(r"\+OK.*")
    pop3.send(typed("noop"))
    pop3.expect(r"\+OK")
    pop3.send(typed("stat"))
    pop3.expect(rf"\+OK 4 {total - sizes[0]}")
    pop3.send(typed("rset"))
    pop3.expect(r"\+OK.*")
    pop3.send(typed("stat"))
    pop3.expect(rf"\+OK 5 {total}")
    pop3.send(typed("list 2"))
    pop3.expect(rf"\+OK 2 {sizes[1]}")
    pop3.send(typed("uidl 2"))
    pop3.expect(rf"\+OK 2 {re.escape(ids[1])}")
    pop3.send(typed("capa"))
    pop3.expect(r"\+OK.*")
    assert b"UIDL" in pop3.multiline()
    pop3.send(typed("dele 1"))
    pop3.expect(r"\+OK.*")
    pop3.send(typed("quit"))
    pop3.expect(r"\+OK")
    assert pop3.closed()
    pop3.close()

    left = inbox(mail_server)
    assert len(left.messages) == 4
    assert [m.size for m in left.messages] == sizes[1:]


def test_apop_as_typed(mail_server: ServerProcess) -> None:
    import hashlib

    pop3 = RawPop3(mail_server.ports["pop3"])
    greeting = pop3.expect(GREETING)
    banner = greeting[greeting.index("<") :]
    digest = hashlib.md5((banner + "group1_1").encode()).hexdigest()
    pop3.send(f"apop group1_1 {digest}")
    pop3.expect(r"\+OK 0 messages \(0 octets\)")
    pop3.send("quit")
    pop3.expect(r"\+OK")
    pop3.close()
