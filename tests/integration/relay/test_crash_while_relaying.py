"""kill -9 of the server while its queue talks to a slow far end: nothing accepted is lost.

The far end is aiosmtpd (a real SMTP server on a loopback socket, in a test
thread) that takes its time before answering DATA. The server is killed
while transactions are in flight and started again on the same data_dir;
every message it answered ``250`` for must arrive (at least once: a copy
whose ``250`` we had not recorded yet may arrive twice, never zero times).
"""

from __future__ import annotations

import threading
import time
from typing import Any

from aiosmtpd.controller import Controller

from tests.integration.relay.conftest import LabServer, free_port, relay_log, send

#: Seconds the far end sits on each DATA before answering 250.
SLOWNESS = 1.5
MESSAGES = 6


class SlowSink:
    """aiosmtpd handler: records each message's Subject after a pause."""

    def __init__(self) -> None:
        self.started = threading.Event()
        self.subjects: list[str] = []
        self.lock = threading.Lock()

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        import asyncio

        self.started.set()
        await asyncio.sleep(SLOWNESS)
        content = envelope.original_content or b""
        for line in content.split(b"\r\n"):
            if line.startswith(b"Subject: "):
                with self.lock:
                    self.subjects.append(line[9:].decode())
        return "250 2.0.0 Ok: stored"


def test_kill_9_during_delivery_loses_nothing(lab_server: LabServer) -> None:
    sink = SlowSink()
    port = free_port()
    controller = Controller(sink, hostname="127.0.0.1", port=port)
    controller.start()
    try:
        server = lab_server("group1.lab", routes={"far.lab": f"127.0.0.1:{port}"})
        subjects = [f"crash test {n}" for n in range(MESSAGES)]
        for subject in subjects:
            send(server, "group1_1@group1.lab", ["someone@far.lab"], subject)
        assert sink.started.wait(60), relay_log(server)
        server.kill()
        with sink.lock:
            before = len(set(sink.subjects))
        assert before < MESSAGES, "the kill came too late to test anything"
        server.start()
        deadline = time.monotonic() + 90
        while set(sink.subjects) != set(subjects):
            assert time.monotonic() < deadline, (sorted(set(sink.subjects)), relay_log(server))
            time.sleep(0.3)
        queue = server.data_dir / "queue"
        deadline = time.monotonic() + 30
        while list(queue.glob("*.json")):
            assert time.monotonic() < deadline, relay_log(server)
            time.sleep(0.2)
    finally:
        controller.stop()
