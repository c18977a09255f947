"""Exercise 6: store and forward between group servers on loopback.

Each server is a real ``mailserver serve`` process with its own domain; mail
for the other domain goes out through the queue to the route in the config
and is read back with imaplib on the far side.
"""

from __future__ import annotations

import contextlib
import email.message
import json
from pathlib import Path

from tests.integration.relay.conftest import (
    LabServer,
    free_port,
    inbox,
    send,
    smtp_route,
    wait_for_mail,
)


def received_hosts(message: email.message.EmailMessage) -> list[str]:
    return [" ".join(str(v).split()) for v in message.get_all("Received", [])]


def test_submission_is_relayed_to_the_other_group(lab_server: LabServer) -> None:
    group2 = lab_server("group2.lab")
    group1 = lab_server("group1.lab", routes={"group2.lab": smtp_route(group2)})
    reply = send(group1, "group1_1@group1.lab", ["group1_2@group2.lab"], "hello group2")
    assert reply.startswith("2.0.0 Ok: queued as ")
    [message] = wait_for_mail(group2, "group1_2")
    assert message["Subject"] == "hello group2"
    assert message["Return-Path"] == "<group1_1@group1.lab>"
    trace = received_hosts(message)
    assert len(trace) == 2, trace
    assert "by mx.group2.lab" in trace[0] and "from mx.group1.lab" in trace[0]
    assert "by mx.group1.lab" in trace[1] and "with ESMTPA" in trace[1]
    queue_id = reply.rsplit(" ", 1)[1]
    assert f"{queue_id}: to=<group1_2@group2.lab>" in group1.log()
    assert "status=sent (250 2.0.0 Ok: queued as" in group1.log()


def test_three_servers_relay_through_the_middle_one(lab_server: LabServer) -> None:
    group3 = lab_server("group3.lab")
    # The middle server relays for its lab neighbours without AUTH (relay.networks).
    group2 = lab_server(
        "group2.lab", routes={"group3.lab": smtp_route(group3)}, networks=["127.0.0.0/8"]
    )
    group1 = lab_server(
        "group1.lab",
        routes={"group2.lab": smtp_route(group2), "*.lab": smtp_route(group2)},
    )
    send(group1, "group1_1@group1.lab", ["group1_3@group3.lab", "group1_2@group2.lab"], "tour")
    [far] = wait_for_mail(group3, "group1_3")
    [near] = wait_for_mail(group2, "group1_2")
    assert far["Subject"] == near["Subject"] == "tour"
    trace = received_hosts(far)
    assert len(trace) == 3, trace
    assert [t.split(" by ")[1].split()[0] for t in trace] == [
        "mx.group3.lab",
        "mx.group2.lab",
        "mx.group1.lab",
    ]


def test_far_server_down_then_started_gets_the_message(lab_server: LabServer) -> None:
    port = free_port()
    group1 = lab_server("group1.lab", routes={"group2.lab": f"127.0.0.1:{port}"})
    send(group1, "group1_1@group1.lab", ["group1_2@group2.lab"], "patience")
    queue = group1.data_dir / "queue"
    # It waits in the queue, deferred, while nobody listens on the route's port.
    wait_until(lambda: "status=deferred" in group1.log(), group1)
    [entry_file] = queue.glob("*.json")
    # The log line comes just before the envelope is rewritten: poll the file.
    wait_until(lambda: json.loads(entry_file.read_text())["recipients"][0]["attempts"] >= 1, group1)
    assert json.loads(entry_file.read_text())["recipients"][0]["state"] == "queued"
    group2 = lab_server("group2.lab", smtp_port=port)
    [message] = wait_for_mail(group2, "group1_2")
    assert message["Subject"] == "patience"
    wait_until(lambda: not list(queue.glob("*.json")), group1)
    assert inbox(group1, "group1_1") == []  # no notice: the default NOTIFY has no SUCCESS


def test_unknown_remote_user_bounces_to_the_sender(lab_server: LabServer) -> None:
    group2 = lab_server("group2.lab")
    group1 = lab_server("group1.lab", routes={"group2.lab": smtp_route(group2)})
    send(group1, "group1_1@group1.lab", ["nobody@group2.lab"], "lost letter")
    [dsn] = wait_for_mail(group1, "group1_1")
    status = check_report(dsn, "nobody@group2.lab", action="failed")
    assert "550 5.1.1" in status["Diagnostic-Code"]
    assert status["Status"] == "5.1.1"
    assert status["Remote-MTA"] == "dns; 127.0.0.1"
    returned = dsn.get_payload()[2]
    assert returned.get_content_type() == "message/rfc822"
    assert returned.get_payload()[0]["Subject"] == "lost letter"
    assert dsn["Return-Path"] == "<>"


def test_queue_lifetime_expiry_bounces_with_the_last_reply(lab_server: LabServer) -> None:
    dead = free_port()
    group1 = lab_server(
        "group1.lab", routes={"group2.lab": f"127.0.0.1:{dead}"}, lifetime=3, delay_warning=0
    )
    send(
        group1,
        "group1_1@group1.lab",
        ["group1_2@group2.lab"],
        "never arrives",
        mail_options=["RET=HDRS", "ENVID=env+2Did"],
    )
    [dsn] = wait_for_mail(group1, "group1_1")
    status = check_report(dsn, "group1_2@group2.lab", action="failed")
    assert "connect to 127.0.0.1:" in status["Diagnostic-Code"]
    assert "gave up after" in status["Diagnostic-Code"]
    assert dsn.get_payload()[2].get_content_type() == "text/rfc822-headers"
    assert "Original-Envelope-Id: env-id" in dsn.get_payload()[1].as_string()
    assert not list((group1.data_dir / "queue").glob("*.json"))


def test_delay_warning_then_the_message_keeps_waiting(lab_server: LabServer) -> None:
    dead = free_port()
    group1 = lab_server("group1.lab", routes={"group2.lab": f"127.0.0.1:{dead}"}, delay_warning=1)
    send(group1, "group1_1@group1.lab", ["group1_2@group2.lab"], "slow boat")
    [notice] = wait_for_mail(group1, "group1_1")
    assert notice["Subject"] == "Delayed Mail (still being retried)"
    status = check_report(notice, "group1_2@group2.lab", action="delayed")
    assert status["Status"].startswith("4.")
    assert status["Will-Retry-Until"]
    assert notice.get_payload()[2].get_content_type() == "text/rfc822-headers"
    entries = [json.loads(text) for text in queue_files(group1.data_dir / "queue")]
    [entry] = [e for e in entries if e["sender"]]  # the notice's own entry may still be there
    assert entry["recipients"][0]["state"] == "queued"
    assert entry["recipients"][0]["delay_warned"] is True


def test_notify_success_and_orcpt_are_honoured(lab_server: LabServer) -> None:
    port1 = free_port()
    group2 = lab_server("group2.lab", routes={"group1.lab": f"127.0.0.1:{port1}"})
    group1 = lab_server("group1.lab", smtp_port=port1, routes={"group2.lab": smtp_route(group2)})
    send(
        group1,
        "group1_1@group1.lab",
        ["group1_2@group2.lab"],
        "tell me",
        rcpt_options=["NOTIFY=SUCCESS,FAILURE", "ORCPT=rfc822;boss@group2.lab"],
    )
    wait_for_mail(group2, "group1_2")
    # group2 speaks DSN, so it (the final hop) reports delivery, not group1.
    [dsn] = wait_for_mail(group1, "group1_1")
    status = check_report(dsn, "group1_2@group2.lab", action="delivered")
    assert status["Original-Recipient"] == "rfc822; boss@group2.lab"
    assert "from mx.group2.lab" in dsn["Received"]


def queue_files(queue: Path) -> list[str]:
    """The envelopes in the queue now (one may vanish while we read: it is done)."""
    texts = []
    for path in queue.glob("*.json"):
        with contextlib.suppress(FileNotFoundError):
            texts.append(path.read_text())
    return texts


def check_report(
    dsn: email.message.EmailMessage, recipient: str, action: str
) -> email.message.Message:
    """A multipart/report with a message/delivery-status naming ``recipient``."""
    assert dsn.get_content_type() == "multipart/report"
    assert dsn.get_param("report-type") == "delivery-status"
    parts = dsn.get_payload()
    assert isinstance(parts, list)
    assert parts[0].get_content_type() == "text/plain"
    assert recipient in parts[0].get_content()
    status_part = parts[1]
    assert status_part.get_content_type() == "message/delivery-status"
    per_message, *per_recipient = status_part.get_payload()
    assert per_message["Reporting-MTA"].startswith("dns; ")
    [status] = per_recipient
    assert status["Final-Recipient"] == f"rfc822; {recipient}"
    assert status["Action"] == action
    return status


def wait_until(condition: object, server: object, deadline: float = 60.0) -> None:
    import time

    end = time.monotonic() + deadline
    while not condition():  # type: ignore[operator]
        if time.monotonic() > end:
            raise AssertionError(f"condition not met in {deadline}s\n{server.log()[-3000:]}")  # type: ignore[attr-defined]
        time.sleep(0.2)


def test_a_notification_that_cannot_be_delivered_is_dropped(lab_server: LabServer) -> None:
    group2 = lab_server("group2.lab")
    group1 = lab_server("group1.lab", routes={"group2.lab": smtp_route(group2)})
    # On port 25 after AUTH any sender may be given: one that does not exist.
    send(
        group1,
        "group1_1@group1.lab",
        ["nobody@group2.lab"],
        "ghost",
        envelope_from="ghost@group2.lab",
    )
    wait_until(lambda: "never bounce a bounce" in group1.log(), group1)
    wait_until(lambda: not queue_files(group1.data_dir / "queue"), group1)
    log = group1.log()
    assert log.count("status=bounced") == 2  # the message, then its notification: no more
    assert inbox(group1, "group1_1") == []
