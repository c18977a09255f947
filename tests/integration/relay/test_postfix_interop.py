"""Interoperability with a real MTA: our queue -> Postfix -> our server, and back.

Postfix is the next hop of group1's queue and the previous hop of group2's
SMTP listener; a bounce Postfix writes travels back to group1's INBOX.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass

import pytest

from tests.integration.relay.conftest import LabServer, free_port, relay_log, send, wait_for_mail
from tests.integration.relay.postfix import Postfix, require_postfix
from tests.integration.relay.test_relay_between_servers import check_report, received_hosts
from tests.support.server import ServerProcess


@dataclass
class Chain:
    group1: ServerProcess
    group2: ServerProcess
    postfix: Postfix


@pytest.fixture
def chain(lab_server: LabServer) -> Iterator[Chain]:
    require_postfix()
    port1, port_postfix = free_port(), free_port()
    group2 = lab_server("group2.lab")
    postfix = Postfix(
        port_postfix, {"group2.lab": group2.ports["smtp"], "group1.lab": port1}
    ).start()
    try:
        group1 = lab_server(
            "group1.lab", smtp_port=port1, routes={"group2.lab": f"127.0.0.1:{port_postfix}"}
        )
        yield Chain(group1, group2, postfix)
    finally:
        postfix.stop()


def test_our_queue_to_postfix_to_our_server(chain: Chain) -> None:
    group1, group2, postfix = chain.group1, chain.group2, chain.postfix
    send(group1, "group1_1@group1.lab", ["group1_2@group2.lab"], "via postfix")
    [message] = wait_for_mail(group2, "group1_2")
    assert message["Subject"] == "via postfix"
    trace = received_hosts(message)
    assert len(trace) == 3, trace
    assert "from postfix.lab" in trace[0] and "by mx.group2.lab" in trace[0]
    assert "by postfix.lab (Postfix)" in trace[1] and "from mx.group1.lab" in trace[1]
    assert "by mx.group1.lab" in trace[2]
    assert "status=sent (250 2.0.0 Ok: queued as" in relay_log(group1)
    assert "status=sent" in postfix.log()


def test_postfix_bounce_reaches_our_sender(chain: Chain) -> None:
    group1 = chain.group1
    send(group1, "group1_1@group1.lab", ["nobody@group2.lab"], "to nobody")
    [dsn] = wait_for_mail(group1, "group1_1")
    # Postfix took the message (it does not know group2's users), then our group2
    # refused the recipient; Postfix's notice comes back to group1 through our listener.
    status = check_report(dsn, "nobody@group2.lab", action="failed")
    assert "550 5.1.1" in status["Diagnostic-Code"]
    assert "MAILER-DAEMON@postfix.lab" in dsn["From"]
    assert dsn["Return-Path"] == "<>"
