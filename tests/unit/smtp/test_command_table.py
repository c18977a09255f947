"""The SMTP command table: telnet backspaces applied before the verb is chosen, and
per-verb limits that do not remember every verb a client makes up."""

from __future__ import annotations

from mailserver.smtp.protocol import (
    COMMAND_LINE_LIMIT,
    Command,
    CommandSizeLimits,
    CommandTable,
)


def table(calls: list[tuple[str, str | None]]) -> CommandTable:
    def handler(verb: str) -> Command:
        async def run(arg: str | None) -> None:
            calls.append((verb, arg))

        return run

    return CommandTable({v: handler(v) for v in ("NOOP", "RCPT", "HELO")}, handler("?"))


async def test_backspaces_choose_the_verb_and_fix_the_argument() -> None:
    calls: list[tuple[str, str | None]] = []
    commands = table(calls)
    # aiosmtpd splits at the first space and upper-cases the verb before the lookup.
    await commands.get("NOOQ\x08P")(None)
    await commands.get("RCTP\x08\x08PT")("TO:<group1_x\x7f2@JServer.NetLab>")
    await commands.get("HELO")("pc \x08\x08\x08\x08\x08\x08\x08\x08NOOP")
    await commands.get("FOO")("\x08\x08\x08\x08")
    await commands.get("HELO")("caf\udcc3\udca9\x08e")  # surrogate-escaped UTF-8 é
    assert calls == [
        ("NOOP", None),
        ("RCPT", "TO:<group1_2@JServer.NetLab>"),
        ("NOOP", None),
        ("?", None),
        ("HELO", "cafe"),
    ]


async def test_lines_without_backspaces_pass_unchanged() -> None:
    calls: list[tuple[str, str | None]] = []
    await table(calls).get("HELO")("  pc\t")
    await table(calls).get("BOGUS")("x")
    assert calls == [("HELO", "  pc\t"), ("?", "x")]


def test_size_limits_do_not_store_made_up_verbs() -> None:
    limits = CommandSizeLimits()
    for n in range(1000):
        assert limits[f"NOOP{n}\x08"] == COMMAND_LINE_LIMIT
    assert len(limits) == 0
    limits["MAIL"] += 26  # what aiosmtpd's own EHLO does
    assert limits["MAIL"] == COMMAND_LINE_LIMIT + 26
