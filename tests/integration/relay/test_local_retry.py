"""A local copy that fails while the others succeed is queued, not answered with 4xx.

Otherwise the client would retry the whole message and the recipients whose
copies were stored would get it twice.
"""

from __future__ import annotations

import json

from tests.integration.relay.conftest import LabServer, relay_log, send, wait_for_mail
from tests.integration.relay.test_relay_between_servers import wait_until


def test_failed_local_copy_is_retried_from_the_queue(lab_server: LabServer) -> None:
    server = lab_server("group1.lab")
    # Break group1_2's INBOX: its tmp/ is a file, so writing a copy fails.
    inbox_dir = server.maildir("group1_2")
    for sub in ("cur", "new"):
        (inbox_dir / sub).mkdir(parents=True, exist_ok=True)
    (inbox_dir / "tmp").write_text("in the way\n")
    reply = send(
        server, "group1_1@group1.lab", ["group1_3@group1.lab", "group1_2@group1.lab"], "twice?"
    )
    assert reply.startswith("2.0.0 Ok: queued as ")
    queue_id = reply.rsplit(" ", 1)[1]
    [stored] = wait_for_mail(server, "group1_3")
    assert stored["Subject"] == "twice?"
    entry_path = server.data_dir / "queue" / f"{queue_id}.json"
    entry = json.loads(entry_path.read_text())
    assert [r["address"] for r in entry["recipients"]] == ["group1_2@group1.lab"]
    wait_until(lambda: "status=deferred" in server.log(), server)
    # The disk is repaired; the queue delivers the one missing copy.
    (inbox_dir / "tmp").unlink()
    (inbox_dir / "tmp").mkdir()
    [late] = wait_for_mail(server, "group1_2")
    assert late["Subject"] == "twice?"
    assert late["Return-Path"] == "<group1_1@group1.lab>"
    assert len(late.get_all("Received")) == 1
    wait_until(lambda: not entry_path.exists(), server)
    assert len(wait_for_mail(server, "group1_3")) == 1, relay_log(server)
