"""kill -9 while an IMAP client works: every tagged OK survives, exactly once.

Each round starts the server, lets one client APPEND, UID COPY, UID MOVE,
UID STORE and UID EXPUNGE at random from a background thread, and SIGKILLs
the server at a random moment. The test keeps a model of the folders built
only from acknowledged commands. After each crash the store (opened from
this process, as another process would) must hold exactly that model, give
or take the one command that was in flight: same UIDs, same flags, no
duplicates, the same UIDVALIDITY, and a UIDNEXT above every UID ever handed out.
"""

from __future__ import annotations

import asyncio
import email
import random
import re
import threading
import time
from dataclasses import dataclass, field

import pytest

from mailserver.storage import INBOX
from tests.integration.imap.conftest import RawImap, store_of
from tests.support.server import ServerProcess

pytestmark = pytest.mark.slow

ROUNDS = 6
USER = "group1_1"
FOLDERS = (INBOX, "Archive", "Trash")
KEYWORD = "$Label1"

#: folder -> uid -> (subject, flags)
Model = dict[str, dict[int, tuple[str, frozenset[str]]]]


@dataclass
class Pending:
    """The command in flight when the server died: it may or may not have happened."""

    kind: str
    folder: str = INBOX
    uid: int = 0
    subject: str = ""
    target: str = ""


@dataclass(eq=False)
class Worker(threading.Thread):
    host: str
    port: int
    round_no: int
    rng: random.Random
    model: Model
    pending: Pending | None = None
    acknowledged: int = 0
    #: folder -> highest UID any acknowledged command reported
    issued: dict[str, int] = field(default_factory=dict)
    stop: threading.Event = field(default_factory=threading.Event)

    def __post_init__(self) -> None:
        super().__init__(daemon=True)

    def run(self) -> None:
        try:
            client = RawImap(self.host, self.port)
            client.readline()
            client.ok(f"a LOGIN {USER} {USER}")
            client.ok("b SELECT INBOX")
            for number in range(100_000):
                if self.stop.is_set():
                    return
                self.step(client, number)
        except (OSError, EOFError, AssertionError):
            return

    def step(self, client: RawImap, number: int) -> None:
        inbox = self.model[INBOX]
        choice = self.rng.random()
        if choice < 0.4 or len(inbox) < 3:
            self.append(client, number)
            return
        uid = self.rng.choice(sorted(inbox))
        subject, flags = inbox[uid]
        if choice < 0.6:
            flag = self.rng.choice(["\\Flagged", "\\Seen", KEYWORD])
            sign = "-" if flag in flags else "+"
            self.pending = Pending("store", INBOX, uid)
            line = client.ok(f"s{number} UID STORE {uid} {sign}FLAGS.SILENT ({flag})")
            assert not line
            inbox[uid] = (subject, flags - {flag} if sign == "-" else flags | {flag})
        elif choice < 0.75 and not self.in_archive(subject):
            self.pending = Pending("copy", INBOX, uid, subject, "Archive")
            lines = client.command(f"c{number} UID COPY {uid} Archive")
            new_uid = copyuid(lines[-1])
            self.model["Archive"][new_uid] = (subject, flags)
            self.issue("Archive", new_uid)
        elif choice < 0.85:
            self.pending = Pending("move", INBOX, uid, subject, "Trash")
            lines = client.command(f"m{number} UID MOVE {uid} Trash")
            new_uid = copyuid(b"".join(lines))
            del inbox[uid]
            self.model["Trash"][new_uid] = (subject, flags)
            self.issue("Trash", new_uid)
        else:
            self.pending = Pending("expunge", INBOX, uid)
            client.ok(f"d{number} UID STORE {uid} +FLAGS.SILENT (\\Deleted)")
            inbox[uid] = (subject, flags | {"\\Deleted"})
            client.ok(f"x{number} UID EXPUNGE {uid}")
            del inbox[uid]
        self.pending = None
        self.acknowledged += 1

    def in_archive(self, subject: str) -> bool:
        """Each subject is copied at most once, over all rounds: the model carries
        over from round to round (a per-worker set did not), and the check after
        a crash tells an in-flight copy from a duplicate by its subject being
        in the target folder once."""
        return any(s == subject for s, _ in self.model["Archive"].values())

    def issue(self, folder: str, uid: int) -> None:
        self.issued[folder] = max(uid, self.issued.get(folder, 0))

    def append(self, client: RawImap, number: int) -> None:
        subject = f"crash-{self.round_no}-{number}"
        body = ("y" * 70 + "\r\n") * self.rng.choice([1, 50, 2000])
        data = f"Subject: {subject}\r\nMessage-ID: <{subject}@test>\r\n\r\n{body}".encode()
        flags = frozenset(self.rng.choice([[], ["\\Seen"], [KEYWORD, "\\Draft"]]))
        self.pending = Pending("append", INBOX, 0, subject)
        client.send_raw(
            f"p{number} APPEND INBOX ({' '.join(sorted(flags))}) {{{len(data)}+}}\r\n".encode()
            + data
            + b"\r\n"
        )
        lines = client.until_tagged(f"p{number}".encode())
        match = re.search(rb"OK \[APPENDUID \d+ (\d+)\]", lines[-1])
        assert match, lines
        self.model[INBOX][int(match.group(1))] = (subject, flags)
        self.issue(INBOX, int(match.group(1)))
        self.pending = None
        self.acknowledged += 1


def copyuid(text: bytes) -> int:
    match = re.search(rb"\[COPYUID \d+ \d+ (\d+)\]", text)
    assert match, text
    return int(match.group(1))


def on_disk(server: ServerProcess) -> tuple[Model, dict[str, tuple[int, int]]]:
    """Each folder's messages, and its (UIDVALIDITY, UIDNEXT), read through the store."""

    async def run() -> tuple[Model, dict[str, tuple[int, int]]]:
        mailbox = await store_of(server).mailbox(USER)
        model: Model = {}
        counters: dict[str, tuple[int, int]] = {}
        for name in FOLDERS:
            folder = await mailbox.folder(name)
            snap = await folder.snapshot()
            counters[name] = (snap.uidvalidity, snap.uidnext)
            model[name] = {}
            for info in snap.messages:
                subject = str(email.message_from_bytes(await folder.read(info.uid))["Subject"])
                model[name][info.uid] = (subject, info.flags)
        return model, counters

    return asyncio.run(run())


def check(expected: Model, actual: Model, pending: Pending | None) -> list[str]:
    """Differences between the acknowledged model and the disk that ``pending`` cannot explain."""
    problems = []
    for name in FOLDERS:
        want, have = expected[name], actual[name]
        for uid, (subject, flags) in want.items():
            excused = pending is not None and pending.folder == name and pending.uid == uid
            got = have.get(uid)
            if got is None:
                if not (excused and pending.kind in ("move", "expunge")):
                    problems.append(f"{name} UID {uid} ({subject}) lost")
            elif got[0] != subject:
                problems.append(f"{name} UID {uid} is {got[0]}, expected {subject}")
            elif got[1] != flags and not (excused and pending.kind in ("store", "expunge")):
                problems.append(f"{name} UID {uid} flags {sorted(got[1])}, not {sorted(flags)}")
        for uid, (subject, _) in have.items():
            if uid in want:
                continue
            extra_ok = (
                pending is not None
                and pending.subject == subject
                and name == (pending.target or INBOX)
                and sum(s == subject for s, _ in have.values()) == 1
            )
            if not extra_ok:
                problems.append(f"{name} UID {uid} ({subject}) was never acknowledged there")
    return problems


def test_acknowledged_imap_changes_survive_kill_9(mail_server: ServerProcess) -> None:
    seed = random.randrange(1_000_000)
    rng = random.Random(seed)
    model, counters = on_disk(mail_server)
    validity = {name: counters[name][0] for name in FOLDERS}
    highest = dict.fromkeys(FOLDERS, 0)
    total = 0
    for round_no in range(ROUNDS):
        if round_no:
            mail_server.start()
        worker = Worker(mail_server.host, mail_server.ports["imap"], round_no, rng, model)
        worker.start()
        time.sleep(rng.uniform(0.1, 0.8))
        mail_server.kill()
        worker.stop.set()
        worker.join(15)
        assert not worker.is_alive()
        total += worker.acknowledged
        for name in FOLDERS:
            highest[name] = max(highest[name], worker.issued.get(name, 0))
        actual, counters = on_disk(mail_server)
        problems = check(model, actual, worker.pending)
        where = f"round {round_no}, seed {seed}, in flight {worker.pending}"
        assert not problems, f"{where}: {problems}"
        for name in FOLDERS:
            assert counters[name][0] == validity[name], f"{name}: UIDVALIDITY changed (seed {seed})"
            assert counters[name][1] > highest[name], f"{name}: UIDNEXT reused (seed {seed})"
        model = actual  # the in-flight command settled one way or the other
    print(f"seed {seed}: {total} commands acknowledged")
    assert total, f"no command got through at all (seed {seed})"
