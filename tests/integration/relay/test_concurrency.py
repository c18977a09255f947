"""Connection limits per destination, and one transaction per destination host."""

from __future__ import annotations

import asyncio
import threading
import time
from typing import Any

from aiosmtpd.controller import Controller

from tests.integration.relay.conftest import LabServer, free_port, relay_log, send


class CountingSink:
    """Counts transactions in progress at once and the recipients of each."""

    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.current = 0
        self.most = 0
        self.transactions: list[list[str]] = []

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        with self.lock:
            self.current += 1
            self.most = max(self.most, self.current)
        await asyncio.sleep(0.3)
        with self.lock:
            self.current -= 1
            self.transactions.append(sorted(envelope.rcpt_tos))
        return "250 2.0.0 Ok"


def test_per_destination_limit_and_one_transaction_per_host(lab_server: LabServer) -> None:
    sink = CountingSink()
    port = free_port()
    controller = Controller(sink, hostname="127.0.0.1", port=port)
    controller.start()
    try:
        route = f"127.0.0.1:{port}"
        server = lab_server(
            "group1.lab",
            routes={"far.lab": route, "other.lab": route},
            max_per_destination=1,
        )
        for n in range(4):
            send(server, "group1_1@group1.lab", [f"a{n}@far.lab", f"b{n}@other.lab"], f"m{n}")
        deadline = time.monotonic() + 60
        while len(sink.transactions) < 4:
            assert time.monotonic() < deadline, relay_log(server)
            time.sleep(0.2)
        assert sink.most == 1
        # Two domains behind one route: both recipients in one transaction.
        assert sorted(sink.transactions) == [[f"a{n}@far.lab", f"b{n}@other.lab"] for n in range(4)]
    finally:
        controller.stop()
