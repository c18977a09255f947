"""Two server processes on one data_dir share the queue: each message goes out once.

(The ``workers: N`` set-up runs several processes like this.) Both managers
see every entry; the per-entry file lock lets only one deliver it.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from aiosmtpd.controller import Controller

from tests.integration.relay.conftest import FAST_RELAY, free_port, relay_log, send
from tests.support.server import ServerProcess

MESSAGES = 8


class Sink:
    def __init__(self) -> None:
        self.subjects: list[str] = []
        self.lock = threading.Lock()

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        import asyncio

        await asyncio.sleep(0.3)  # long enough for both managers to want the entry
        for line in (envelope.original_content or b"").split(b"\r\n"):
            if line.startswith(b"Subject: "):
                with self.lock:
                    self.subjects.append(line[9:].decode())
        return "250 2.0.0 Ok"


def test_two_processes_deliver_each_entry_once(
    server_factory: Callable[..., ServerProcess], tmp_path: Path
) -> None:
    sink = Sink()
    port = free_port()
    controller = Controller(sink, hostname="127.0.0.1", port=port)
    controller.start()
    try:
        shared = tmp_path / "shared-data"
        settings: dict[str, Any] = {
            "hostname": "mx.group1.lab",
            "domains": ["group1.lab"],
            "data_dir": str(shared),
            "listeners": {"smtp": "127.0.0.1:0"},
            "relay": {**FAST_RELAY, "routes": {"far.lab": f"127.0.0.1:{port}"}},
        }
        first = server_factory(**settings)
        second = server_factory(**settings)
        subjects = [f"shared {n}" for n in range(MESSAGES)]
        for n, subject in enumerate(subjects):
            send((first, second)[n % 2], "group1_1@group1.lab", ["x@far.lab"], subject)
        deadline = time.monotonic() + 60
        while len(set(sink.subjects)) < MESSAGES:
            assert time.monotonic() < deadline, relay_log(first) + relay_log(second)
            time.sleep(0.2)
        while list((shared / "queue").glob("*.json")):
            assert time.monotonic() < deadline, relay_log(first) + relay_log(second)
            time.sleep(0.2)
        time.sleep(1)  # a second delivery would have started by now
        assert sorted(sink.subjects) == sorted(subjects)
        assert "status=sent" in first.log() and "status=sent" in second.log()
    finally:
        controller.stop()
