"""SORT, THREAD and address SEARCH on one folder: ours against Dovecot on a copy of it.

Usage: ``python bench/bench_sort.py [--messages N]`` (root, Debian's dovecot-imapd).

N messages with random subjects, senders and ``References:`` are stored with
our store; our server answers each question twice (cold: headers parsed
from the files; warm: from the caches), then Dovecot (``tests/support/dovecot.py``)
does the same over a copy of the maildir. Prints seconds and the
ours/Dovecot ratio, and checks that both gave the same answer.
"""

from __future__ import annotations

import argparse
import asyncio
import imaplib
import random
import shutil
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from mailserver.storage.maildir import MaildirStore
from tests.support import dovecot
from tests.support.server import ServerProcess, create_users, write_config

QUESTIONS = (
    "UID SORT (SUBJECT) UTF-8 ALL",
    "UID SORT (REVERSE DATE) UTF-8 ALL",
    "UID SORT (DISPLAYFROM) UTF-8 ALL",
    "UID THREAD REFERENCES UTF-8 ALL",
    "UID THREAD ORDEREDSUBJECT UTF-8 ALL",
    "UID THREAD REFS UTF-8 ALL",
    "UID SEARCH FROM user7",
)
Answers = dict[str, tuple[float, float, list[bytes]]]


def ask(client: imaplib.IMAP4, question: str) -> tuple[float, list[bytes]]:
    _, verb, rest = question.split(" ", 2)
    start = time.perf_counter()
    status, data = client.uid(verb, *rest.split(" ", 2))
    elapsed = time.perf_counter() - start
    assert status == "OK", (question, data)
    return elapsed, data


def answers(client: imaplib.IMAP4) -> Answers:
    client.select("INBOX", readonly=True)
    out: Answers = {}
    for question in QUESTIONS:
        cold, _ = ask(client, question)
        warm, data = ask(client, question)
        out[question] = (cold, warm, data)
    return out


async def fill(mail_dir: Path, count: int) -> None:
    folder = await (await MaildirStore(mail_dir).mailbox("group1_1")).folder("INBOX")
    rng = random.Random(1)
    for n in range(count):
        refs = f"References: <m{rng.randrange(n)}@x>\r\n" if n and rng.random() < 0.6 else ""
        subject = ("Re: " if refs else "") + f"topic {rng.randrange(count // 10 + 1)}"
        head = (
            f"Message-ID: <m{n}@x>\r\nDate: {1 + n % 28:02d} Mar 2000 {n % 24:02d}:00:00 +0000\r\n"
            f"From: User {rng.randrange(50)} <user{rng.randrange(50)}@x.example>\r\n"
            f"To: t@x.example\r\nSubject: {subject}\r\n{refs}\r\n"
        )
        await folder.append(head.encode() + b"body line\r\n" * 20)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--messages", type=int, default=3000)
    args = parser.parse_args()
    if not dovecot.available():
        sys.exit("needs root and Debian's dovecot-imapd")
    with dovecot.workdir() as work:
        config = write_config(work)
        create_users(config)
        server = ServerProcess(config)
        asyncio.run(fill(server.mail_dir, args.messages))
        server.start()
        try:
            client = imaplib.IMAP4("127.0.0.1", server.ports["imap"])
            client.login("group1_1", "group1_1")
            ours = answers(client)
            client.logout()
        finally:
            server.stop()
        copy = work / "copy"
        shutil.copytree(server.maildir("group1_1"), copy)
        with dovecot.dovecot(work / "dovecot", copy, "group1_1", "pw") as port:
            client = dovecot.login(port, "group1_1", "pw")
            theirs = answers(client)
            client.logout()
    print(f"{args.messages} messages; seconds cold / warm; ratio = ours / Dovecot (warm)")
    for question in QUESTIONS:
        (o_cold, o_warm, o_data), (t_cold, t_warm, t_data) = ours[question], theirs[question]
        same = "same answer" if o_data == t_data else "DIFFERENT ANSWER"
        print(
            f"{question:38s} ours {o_cold:6.3f} / {o_warm:6.3f}   dovecot {t_cold:6.3f} / "
            f"{t_warm:6.3f}   ratio {o_warm / max(t_warm, 1e-6):6.1f}   {same}"
        )


if __name__ == "__main__":
    main()
