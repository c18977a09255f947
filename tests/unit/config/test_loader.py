"""The YAML config: the foundation's minimal file is a contract; mistakes name the key."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from mailserver.config import ConfigError, ListenAddress, load_config
from mailserver.config.loader import parse_listen_address

MINIMAL = """\
hostname: JServer.NetLab
domains: [JServer.NetLab]
data_dir: ./data
listeners:
  smtp: 127.0.0.1:2525
  pop3: 127.0.0.1:2110
  imap: 127.0.0.1:2143
"""

REPO = Path(__file__).resolve().parents[3]


def write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "mailserver.yaml"
    path.write_text(text)
    return path


def test_minimal_config_is_accepted_as_is(tmp_path: Path) -> None:
    config = load_config(write(tmp_path, MINIMAL))
    assert config.hostname == "JServer.NetLab"
    assert config.domains == ("JServer.NetLab",)
    assert config.data_dir == (tmp_path / "data").resolve()
    assert config.listeners == {
        "smtp": ListenAddress("127.0.0.1", 2525),
        "pop3": ListenAddress("127.0.0.1", 2110),
        "imap": ListenAddress("127.0.0.1", 2143),
    }
    assert config.postmaster == "postmaster"
    assert config.auth.allow_plaintext_without_tls is True
    assert config.user_db_path == config.data_dir / "users.yaml"


def test_relative_paths_are_relative_to_the_config_file(tmp_path: Path, monkeypatch) -> None:
    sub = tmp_path / "etc"
    sub.mkdir()
    monkeypatch.chdir(tmp_path)
    config = load_config(write(sub, MINIMAL))
    assert config.data_dir == (sub / "data").resolve()


@pytest.mark.parametrize("name", ["minimal.yaml", "lab.yaml", "quickstart.yaml", "production.yaml"])
def test_shipped_examples_are_valid(name: str) -> None:
    config = load_config(REPO / "config" / name)
    assert config.listeners
    if name == "production.yaml":
        assert config.auth.allow_plaintext_without_tls is False
        assert {"submission", "imaps", "pop3s", "smtps"} <= set(config.listeners)
    else:
        assert config.hostname == "JServer.NetLab"
    if name == "lab.yaml":
        assert config.auth.exempt_networks  # the lab subnet example


def test_domains_compare_case_insensitively_and_ignore_trailing_dot(tmp_path: Path) -> None:
    config = load_config(write(tmp_path, MINIMAL))
    assert config.is_local_domain("jserver.netlab.")
    assert not config.is_local_domain("example.org")


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("0.0.0.0:25", ListenAddress("0.0.0.0", 25)),
        ("[::1]:143", ListenAddress("::1", 143)),
        (":110", ListenAddress("0.0.0.0", 110)),
        ("2525", ListenAddress("0.0.0.0", 2525)),
        ("localhost", ListenAddress("localhost", 25)),
        (2525, ListenAddress("0.0.0.0", 2525)),
    ],
)
def test_listen_address_forms(text: object, expected: ListenAddress) -> None:
    assert parse_listen_address(text, "smtp") == expected


@pytest.mark.parametrize(
    ("yaml_text", "names"),
    [
        ("domains: [a]\n", "hostname"),
        ("hostname: h\nlisteners: {smtpx: 1}\n", "listeners.smtpx"),
        ("hostname: h\nlisteners: {smtp: 'host:abc'}\n", "listeners.smtp"),
        ("hostname: h\nlisteners: {smtp: 'host:70000'}\n", "listeners.smtp"),
        ("hostname: h\nlimits: {max_message_size: big}\n", "limits.max_message_size"),
        ("hostname: h\nlimits: {max_mesage_size: 1}\n", "limits.max_mesage_size"),
        (
            "hostname: h\nauth: {allow_plaintext_without_tls: 'yes'}\n",
            "auth.allow_plaintext_without_tls",
        ),
        ("hostname: h\ndomains: []\n", "domains"),
        ("hostname: h\nfoo: 1\n", "foo"),
        ("hostname: h\ntls: {certificate: a.pem}\n", "tls"),
        ("hostname: h\nlog_level: LOUD\n", "log_level"),
        ("- just\n- a list\n", "mapping"),
        ("hostname: [unclosed\n", "YAML"),
    ],
)
def test_mistakes_name_the_bad_key(tmp_path: Path, yaml_text: str, names: str) -> None:
    with pytest.raises(ConfigError) as excinfo:
        load_config(write(tmp_path, yaml_text))
    assert names in str(excinfo.value)


def test_missing_file_is_a_config_error(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="cannot read"):
        load_config(tmp_path / "nope.yaml")


def test_quota_and_special_folders(tmp_path: Path) -> None:
    config = load_config(
        write(
            tmp_path,
            MINIMAL
            + "quota: {default_mb: 1, users: {Group1_1: 2.5}}\n"
            + "folders: {sent: Gesendet, junk: null}\n",
        )
    )
    assert config.quota.limit_bytes("group1_1") == int(2.5 * 1024 * 1024)
    assert config.quota.limit_bytes("anyone") == 1024 * 1024
    assert config.special_folders["\\Sent"] == "Gesendet"
    assert "\\Junk" not in config.special_folders
    assert config.special_folders["\\Trash"] == "Trash"


def test_no_quota_by_default(tmp_path: Path) -> None:
    config = load_config(write(tmp_path, MINIMAL))
    assert config.quota.limit_bytes("group1_1") is None
    assert set(config.special_folders) == {"\\Sent", "\\Drafts", "\\Trash", "\\Junk", "\\Archive"}


@pytest.mark.parametrize(
    ("extra", "key"),
    [
        ("quota: {default_mb: -1}\n", "quota.default_mb"),
        ("quota: {users: {bob: lots}}\n", "quota.users.bob"),
        ("folders: {outbox: Out}\n", "folders.outbox"),
        ("folders: {sent: INBOX}\n", "folders.sent"),
    ],
)
def test_quota_and_folder_mistakes(tmp_path: Path, extra: str, key: str) -> None:
    with pytest.raises(ConfigError, match=re.escape(key)):
        load_config(write(tmp_path, MINIMAL + extra))


@pytest.mark.parametrize(
    ("extra", "key"),
    [
        ("limits: {max_message_size: .inf}\n", "limits.max_message_size"),
        ("limits: {max_recipients: .nan}\n", "limits.max_recipients"),
        ("limits: {max_connections: 0.5}\n", "limits.max_connections"),
        ("limits: {max_header_size: 10}\n", "limits.max_header_size"),
        ("limits: {memory_budget: 1000}\n", "limits.memory_budget"),
        ("limits: {unauthenticated_share: 0}\n", "limits.unauthenticated_share"),
        ("limits: {unauthenticated_share: 1.5}\n", "limits.unauthenticated_share"),
        ("limits: {min_data_rate: -1}\n", "limits.min_data_rate"),
        ("timeouts: {imap: .nan}\n", "timeouts.imap"),
        ("quota: {default_mb: .inf}\n", "quota.default_mb"),
        ("folders: {sent: 'Sent*'}\n", "folders.sent"),
        ("folders: {drafts: 'My.Drafts'}\n", "folders.drafts"),
        ("folders: {junk: Trash}\n", "folders.junk"),
        ("auth: {password_scheme: rot13}\n", "auth.password_scheme"),
        ("auth: {password_scheme: plaintext}\n", "auth.password_scheme"),
        ("auth: {exempt_networks: 10.0.0.0/8}\n", "auth.exempt_networks"),
        ("auth: {exempt_networks: [10.0.0.0/33]}\n", r"auth.exempt_networks[0]"),
        ("auth: {exempt_networks: [10.0.0.0/8, lab]}\n", r"auth.exempt_networks[1]"),
        ("auth: {exempt_networks: [8]}\n", r"auth.exempt_networks[0]"),
    ],
)
def test_values_the_server_cannot_use_are_config_errors(
    tmp_path: Path, extra: str, key: str
) -> None:
    """Found by check-config, not by a traceback when the server starts."""
    with pytest.raises(ConfigError, match=re.escape(key)):
        load_config(write(tmp_path, MINIMAL + extra))


def test_exempt_networks_are_parsed_and_normalised(tmp_path: Path) -> None:
    extra = "auth: {exempt_networks: [10.1.2.3/16, '2001:db8::/32', 192.0.2.7]}\n"
    config = load_config(write(tmp_path, MINIMAL + extra))
    assert config.auth.exempt_networks == ("10.1.0.0/16", "2001:db8::/32", "192.0.2.7/32")


def test_a_yaml_syntax_error_names_the_file_and_the_line(tmp_path: Path) -> None:
    path = write(tmp_path, MINIMAL + "limits: {max_line_length: 10\n")
    with pytest.raises(ConfigError) as excinfo:
        load_config(path)
    message = str(excinfo.value)
    assert str(path) in message and "line 9" in message
    assert "<unicode string>" not in message


def test_imap_line_limit_defaults_to_dovecots_and_names_its_key(tmp_path: Path) -> None:
    assert load_config(write(tmp_path, MINIMAL)).limits.imap_max_line_length == 65536
    config = load_config(write(tmp_path, MINIMAL + "limits: {imap_max_line_length: 100000}\n"))
    assert config.limits.imap_max_line_length == 100000
    with pytest.raises(ConfigError) as excinfo:
        load_config(write(tmp_path, MINIMAL + "limits: {imap_max_line_length: -1}\n"))
    assert "limits.imap_max_line_length" in str(excinfo.value)
