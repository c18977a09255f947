"""kill -9 while clients are sending: every message acknowledged with 250 survives, once.

Each round starts the server, sends uniquely numbered messages from a
background thread, and SIGKILLs the server at a random moment (often in
the middle of a DATA transfer or a store). Messages never acknowledged may
or may not be there; nothing is ever retried, so any duplicate is a bug.
"""

from __future__ import annotations

import random
import smtplib
import threading
import time
from collections import Counter

import pytest

from tests.integration.smtp.helpers import delivered
from tests.support.server import ServerProcess

pytestmark = pytest.mark.slow

ROUNDS = 5
SENDER = "group1_1@JServer.NetLab"
RECIPIENTS = ["group1_2@JServer.NetLab", "group1_3@JServer.NetLab"]


class Sender(threading.Thread):
    """Sends messages one after another until the server dies or ``stop`` is set."""

    def __init__(self, host: str, port: int, round_no: int, rng: random.Random) -> None:
        super().__init__(daemon=True)
        self.host, self.port, self.round_no = host, port, round_no
        self.sizes = [rng.choice([100, 5_000, 200_000]) for _ in range(1000)]
        self.acknowledged: list[str] = []
        self.attempted: list[str] = []
        self.stop = threading.Event()

    def run(self) -> None:
        try:
            with smtplib.SMTP(self.host, self.port, timeout=10) as smtp:
                for number, size in enumerate(self.sizes):
                    if self.stop.is_set():
                        return
                    subject = f"crash-{self.round_no}-{number}"
                    self.attempted.append(subject)
                    message = (
                        f"Subject: {subject}\r\nMessage-ID: <{subject}@test>\r\n\r\n"
                        + "x" * 70
                        + "\r\n"
                    ) + ("y" * 98 + "\r\n") * (size // 100)
                    smtp.sendmail(SENDER, RECIPIENTS, message.encode())
                    self.acknowledged.append(subject)
        except (smtplib.SMTPException, OSError):
            return


def test_acknowledged_messages_survive_kill_9(mail_server: ServerProcess) -> None:
    seed = random.randrange(1_000_000)
    rng = random.Random(seed)
    acknowledged: list[str] = []
    attempted: list[str] = []
    for round_no in range(ROUNDS):
        if round_no:
            mail_server.start()
        sender = Sender(mail_server.host, mail_server.ports["smtp"], round_no, rng)
        sender.start()
        time.sleep(rng.uniform(0.05, 0.6))
        mail_server.kill()
        sender.stop.set()
        sender.join(15)
        assert not sender.is_alive()
        acknowledged += sender.acknowledged
        attempted += sender.attempted
    mail_server.start()  # the store must open what the crashes left behind
    print(f"seed {seed}: {len(acknowledged)} acknowledged of {len(attempted)} attempted")

    assert acknowledged, f"no message got through at all (seed {seed})"
    for user in ("group1_2", "group1_3"):
        stored = Counter(str(m["Subject"]) for m in delivered(mail_server, user))
        lost = [s for s in acknowledged if stored[s] != 1]
        assert not lost, f"{user}: acknowledged but not stored exactly once: {lost} (seed {seed})"
        duplicates = [s for s, n in stored.items() if n > 1]
        assert not duplicates, f"{user}: stored twice: {duplicates} (seed {seed})"
        assert set(stored) <= set(attempted), f"{user}: unexpected messages (seed {seed})"
