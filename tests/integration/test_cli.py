"""The ``mailserver`` command as an instructor uses it."""

from __future__ import annotations

import dataclasses
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
    assert listing.stdout.split() == ["alice", "carol"]
    stored = users_in(config)
    assert "s3cret" not in str(stored) and "from-stdin" not in str(stored)
    assert (config.parent / "data" / "mail" / "alice" / "new").is_dir()

    before = stored["alice"]["password"]
    assert cli(config, "user", "passwd", "alice", "--password", "other").returncode == 0
    assert users_in(config)["alice"]["password"] != before

    duplicate = cli(config, "user", "add", "alice", "--password", "x")
    assert duplicate.returncode == 1 and "alice" in duplicate.stderr

    assert cli(config, "user", "del", "alice", "--purge").returncode == 0
    assert cli(config, "user", "list").stdout.split() == ["carol"]
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
    assert again.stdout.startswith("0 of 72")

    assert cli(config, "user", "passwd", "group1_1", "--password", "forgotten").returncode == 0
    reset = cli(config, "lab", "provision", "--groups", "1", "--seats", "1", "--reset")
    assert reset.stdout.startswith("1 of 1")

    removed = cli(config, "lab", "remove", "--groups", "12", "--seats", "6", "--purge")
    assert removed.returncode == 0
    assert cli(config, "user", "list").stdout.split() == []
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
