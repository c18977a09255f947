"""The ``mailserver`` command as an instructor uses it."""

from __future__ import annotations

import asyncio
import dataclasses
import json
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from tests.support.server import write_config


def cli(config: Path, *args: str, stdin: str | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "mailserver", "-c", str(config), *args],
        input=stdin,
        capture_output=True,
        text=True,
        timeout=120,
    )


@pytest.fixture
def config(tmp_path: Path) -> Path:
    return write_config(tmp_path)


def listed_names(listing: str) -> list[str]:
    """The account names of ``user list`` (first column, after the heading)."""
    lines = listing.splitlines()
    assert lines and lines[0].split() == ["USER", "MESSAGES", "SIZE"], listing
    return [line.split()[0] for line in lines[1:]]


def users_in(config: Path) -> dict[str, dict[str, object]]:
    data = yaml.safe_load((config.parent / "data" / "users.yaml").read_text())
    return data["users"]


def test_check_config_prints_effective_settings(config: Path) -> None:
    result = cli(config, "check-config")
    assert result.returncode == 0, result.stderr
    effective = yaml.safe_load(result.stdout.split("\n# ")[0])
    assert effective["hostname"] == "JServer.NetLab"
    assert effective["listeners"]["smtp"] == "127.0.0.1:0"
    assert effective["limits"]["max_message_size"] == 73400320


def test_config_mistake_is_one_line_naming_the_key(tmp_path: Path) -> None:
    config = write_config(tmp_path, limits={"max_message_size": "big"})
    result = cli(config, "check-config")
    assert result.returncode == 2
    assert "limits.max_message_size" in result.stderr
    assert "Traceback" not in result.stderr


def test_user_add_list_passwd_del(config: Path) -> None:
    assert cli(config, "user", "add", "Alice", "--password", "s3cret").returncode == 0
    assert cli(config, "user", "add", "carol", stdin="from-stdin\n").returncode == 0
    listing = cli(config, "user", "list")
    assert listed_names(listing.stdout) == ["alice", "carol"]
    stored = users_in(config)
    assert "s3cret" not in str(stored) and "from-stdin" not in str(stored)
    assert (config.parent / "data" / "mail" / "alice" / "new").is_dir()

    before = stored["alice"]["password"]
    assert cli(config, "user", "passwd", "alice", "--password", "other").returncode == 0
    assert users_in(config)["alice"]["password"] != before

    duplicate = cli(config, "user", "add", "alice", "--password", "x")
    assert duplicate.returncode == 1 and "alice" in duplicate.stderr

    assert cli(config, "user", "del", "alice", "--purge").returncode == 0
    assert listed_names(cli(config, "user", "list").stdout) == ["carol"]
    assert not (config.parent / "data" / "mail" / "alice").exists()


def test_invalid_user_name_is_refused(config: Path) -> None:
    result = cli(config, "user", "add", "../evil", "--password", "x")
    assert result.returncode == 1
    assert "Traceback" not in result.stderr


def test_lab_provision_is_idempotent_and_remove_purges(config: Path) -> None:
    first = cli(config, "lab", "provision", "--groups", "12", "--seats", "6")
    assert first.returncode == 0, first.stderr
    assert first.stdout.startswith("72 of 72")
    names = set(users_in(config))
    assert {"group1_1", "group12_6", "group6_6"} <= names and len(names) == 72

    again = cli(config, "lab", "provision", "--groups", "12", "--seats", "6")
    assert again.stdout == (
        "72 lab accounts already exist (passwords kept; --reset sets them back)\n"
    )

    more = cli(config, "lab", "provision", "--groups", "13", "--seats", "6")
    assert more.stdout.startswith("6 of 78 lab accounts created (group13_1 .. group13_6); ")
    assert "72 already existed (passwords kept; --reset sets them back)" in more.stdout

    assert cli(config, "user", "passwd", "group1_1", "--password", "forgotten").returncode == 0
    reset = cli(config, "lab", "provision", "--groups", "1", "--seats", "1", "--reset")
    assert reset.stdout.startswith("1 of 1 lab accounts reset to password = name")
    assert cli(config, "lab", "remove", "--groups", "13", "--seats", "6").returncode == 0

    removed = cli(config, "lab", "remove", "--groups", "12", "--seats", "6", "--purge")
    assert removed.returncode == 0
    assert listed_names(cli(config, "user", "list").stdout) == []
    assert not (config.parent / "data" / "mail" / "group3_3").exists()


def test_tls_self_signed_writes_a_certificate_for_hostname_and_extra_names(config: Path) -> None:
    from cryptography import x509

    result = cli(config, "tls", "self-signed", "172.16.0.253", "mail.netlab")
    assert result.returncode == 0, result.stderr
    cert_file = config.parent / "data" / "tls" / "cert.pem"
    cert = x509.load_pem_x509_certificate(cert_file.read_bytes())
    san = cert.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
    assert san.get_values_for_type(x509.DNSName) == ["JServer.NetLab", "mail.netlab"]
    assert [str(a) for a in san.get_values_for_type(x509.IPAddress)] == ["172.16.0.253"]
    again = cli(config, "tls", "self-signed")
    assert again.returncode == 1 and "--force" in again.stderr
    assert cli(config, "tls", "self-signed", "--force").returncode == 0
    replaced = x509.load_pem_x509_certificate(cert_file.read_bytes())
    assert replaced.serial_number != cert.serial_number


def test_check_config_output_is_itself_the_same_config(tmp_path: Path) -> None:
    """What check-config prints can be saved and used: every key is a config key."""
    from mailserver.config import load_config

    config = write_config(
        tmp_path, folders={"sent": "Gesendet", "junk": None}, quota={"users": {"bob": 2}}
    )
    result = cli(config, "check-config")
    assert result.returncode == 0, result.stderr
    printed = tmp_path / "printed.yaml"
    printed.write_text(result.stdout)
    original = load_config(config)
    expected = dataclasses.replace(original, source=printed, users_file=original.user_db_path)
    assert load_config(printed) == expected


# ------------------------------------------------------------------ lab day


def test_user_list_in_natural_order_with_messages_and_size(config: Path) -> None:
    from mailserver.config import load_config
    from mailserver.server import build_store

    for name in ("group10_1", "group2_1", "group1_10", "group1_2"):
        assert cli(config, "user", "add", name, "--password", "x").returncode == 0

    async def deliver() -> None:
        mailbox = await build_store(load_config(config)).mailbox("group2_1")
        inbox = await mailbox.folder("INBOX")
        await inbox.append(b"Subject: one\r\n\r\n" + b"x" * 2000 + b"\r\n")
        await inbox.append(b"Subject: two\r\n\r\nhi\r\n")

    asyncio.run(deliver())
    listing = cli(config, "user", "list")
    assert listing.returncode == 0, listing.stderr
    rows = [line.split() for line in listing.stdout.splitlines()[1:]]
    assert [row[0] for row in rows] == ["group1_2", "group1_10", "group2_1", "group10_1"]
    counts = {row[0]: (row[1], " ".join(row[2:])) for row in rows}
    assert counts["group2_1"] == ("2", "2.0 KiB")
    assert counts["group10_1"] == ("0", "0 B")


def test_lab_status_in_natural_order_like_user_list(config: Path) -> None:
    """The instructor reads ``lab status`` group by group: group1_* first, not group10_*."""
    assert cli(config, "lab", "provision", "--groups", "10", "--seats", "2").returncode == 0
    status = cli(config, "lab", "status")
    assert status.returncode == 0, status.stderr
    table = status.stdout.split("\n\n")[0].splitlines()[1:]
    names = [line.split()[0] for line in table]
    expected = [f"group{group}_{seat}" for group in range(1, 11) for seat in (1, 2)]
    assert names == expected
    as_json = json.loads(cli(config, "lab", "status", "--json").stdout)
    assert [row["name"] for row in as_json] == expected


def test_output_into_a_closed_pipe_is_quiet(config: Path) -> None:
    """``mailserver user list | head``: head goes away first; no traceback."""
    assert cli(config, "lab", "provision", "--groups", "12", "--seats", "6").returncode == 0
    command = [sys.executable, "-m", "mailserver", "-c", str(config), "user", "list"]
    process = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    assert process.stdout is not None and process.stderr is not None
    process.stdout.close()  # the reader is gone before a line was written
    errors = process.stderr.read().decode()
    process.wait(timeout=120)
    assert "Traceback" not in errors and "BrokenPipeError" not in errors, errors


def test_yaml_syntax_error_names_the_config_file(tmp_path: Path) -> None:
    config = tmp_path / "broken.yaml"
    config.write_text("hostname: JServer.NetLab\nlisteners: {smtp: 127.0.0.1:0\n")
    result = cli(config, "check-config")
    assert result.returncode == 2
    assert str(config) in result.stderr and "line 3" in result.stderr
    assert "<unicode string>" not in result.stderr


def _pair(directory: Path) -> tuple[Path, Path]:
    from mailserver.net.tls import CertificatePaths, write_self_signed

    paths = CertificatePaths(directory / "cert.pem", directory / "key.pem")
    write_self_signed(paths, "JServer.NetLab", ())
    return paths.certificate, paths.key


def test_check_config_checks_the_tls_files(tmp_path: Path) -> None:
    cert_a, key_a = _pair(tmp_path / "a")
    cert_b, key_b = _pair(tmp_path / "b")
    good = cli(
        write_config(tmp_path, tls={"certificate": str(cert_a), "key": str(key_a)}), "check-config"
    )
    assert good.returncode == 0, good.stderr

    missing = tmp_path / "nope" / "cert.pem"
    cases = [
        ({"certificate": str(missing), "key": str(key_a)}, "tls.certificate", str(missing)),
        ({"certificate": str(cert_a), "key": str(key_b)}, "tls.key", str(key_b)),
        ({"certificate": str(key_a), "key": str(key_a)}, "tls.certificate", str(key_a)),
        ({"certificate": str(cert_a), "key": str(cert_b)}, "tls.key", str(cert_b)),
    ]
    for tls, key, path in cases:
        result = cli(write_config(tmp_path, tls=tls), "check-config")
        assert result.returncode == 2, (tls, result.stdout)
        assert key in result.stderr and path in result.stderr, result.stderr
        assert "Traceback" not in result.stderr
    mismatch = cli(
        write_config(tmp_path, tls={"certificate": str(cert_a), "key": str(key_b)}), "check-config"
    )
    assert "does not match" in mismatch.stderr


def test_serve_names_the_missing_certificate(tmp_path: Path) -> None:
    _, key = _pair(tmp_path / "a")
    missing = tmp_path / "nope.pem"
    config = write_config(tmp_path, tls={"certificate": str(missing), "key": str(key)})
    result = cli(config, "serve")
    assert result.returncode == 3, result.stderr
    assert f"tls.certificate: cannot read {missing}" in result.stderr
