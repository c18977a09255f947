"""``mailserver queue ...`` against the queue of a running server."""

from __future__ import annotations

import subprocess
import sys

from tests.integration.relay.conftest import LabServer, free_port, send, wait_for_mail
from tests.integration.relay.test_relay_between_servers import wait_until
from tests.support.server import ServerProcess


def queue_cli(server: ServerProcess, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "mailserver", "-c", str(server.config_path), "queue", *args],
        capture_output=True,
        text=True,
        timeout=60,
        cwd=server.directory,
    )


def test_list_show_retry_delete_while_the_server_runs(lab_server: LabServer) -> None:
    port = free_port()
    # A long backoff: after the first failure only an operator's retry brings it forward.
    group1 = lab_server(
        "group1.lab",
        routes={"group2.lab": f"127.0.0.1:{port}"},
        min_backoff=3600,
        max_backoff=3600,
    )
    assert queue_cli(group1, "list").stdout.strip() == "Mail queue is empty"
    kept = send(group1, "group1_1@group1.lab", ["group1_2@group2.lab"], "keep").rsplit(" ", 1)[1]
    gone = send(group1, "group1_1@group1.lab", ["group1_3@group2.lab"], "drop").rsplit(" ", 1)[1]
    wait_until(lambda: group1.log().count("status=deferred") >= 2, group1)

    listing = queue_cli(group1, "list")
    assert listing.returncode == 0, listing.stderr
    assert kept in listing.stdout and gone in listing.stdout
    assert "group1_2@group2.lab" in listing.stdout
    assert f"connect to 127.0.0.1:{port}" in listing.stdout
    assert "in 2 Requests." in listing.stdout

    shown = queue_cli(group1, "show", kept.lower())
    assert shown.returncode == 0, shown.stderr
    assert '"state": "queued"' in shown.stdout and "Subject: keep" in shown.stdout
    assert queue_cli(group1, "show", "000000000000").returncode == 1

    deleted = queue_cli(group1, "delete", gone)
    assert deleted.returncode == 0, deleted.stderr
    assert f"{gone}: removed" in deleted.stdout
    assert gone not in queue_cli(group1, "list").stdout

    # The far end comes up; the entry waits an hour unless the operator says retry.
    group2 = lab_server("group2.lab", smtp_port=port)
    retried = queue_cli(group1, "retry", kept)
    assert retried.returncode == 0, retried.stderr
    [message] = wait_for_mail(group2, "group1_2")
    assert message["Subject"] == "keep"
    wait_until(lambda: "empty" in queue_cli(group1, "list").stdout, group1)
    assert "drop" not in group2.log()


def test_flush_and_delete_all(lab_server: LabServer) -> None:
    port = free_port()
    group1 = lab_server(
        "group1.lab",
        routes={"group2.lab": f"127.0.0.1:{port}"},
        min_backoff=3600,
        max_backoff=3600,
    )
    for subject in ("one", "two", "three"):
        send(group1, "group1_1@group1.lab", ["group1_2@group2.lab"], subject)
    wait_until(lambda: group1.log().count("status=deferred") >= 3, group1)
    flushed = queue_cli(group1, "flush")
    assert flushed.returncode == 0, flushed.stderr
    wait_until(lambda: group1.log().count("status=deferred") >= 6, group1)
    removed = queue_cli(group1, "delete", "--all")
    assert removed.returncode == 0, removed.stderr
    assert "3 message(s) removed" in removed.stdout
    assert queue_cli(group1, "list").stdout.strip() == "Mail queue is empty"
    assert group1.process is not None and group1.process.poll() is None
