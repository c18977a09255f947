"""Which servers autoconfig names, in which order, from the config alone."""

from __future__ import annotations

from pathlib import Path

from mailserver.config import parse_config
from mailserver.web.autoconfig import endpoints


def config(plaintext: bool) -> object:
    return parse_config(
        {
            "hostname": "JServer.NetLab",
            "listeners": {"smtp": 2525, "imap": 2143, "imaps": 993, "pop3": 2110},
            "auth": {"allow_plaintext_without_tls": plaintext},
        },
        base_dir=Path("/tmp"),
    )


def test_best_first_and_plain_only_when_allowed() -> None:
    strict = endpoints(config(False), {})  # type: ignore[arg-type]
    assert [(e.protocol, e.port, e.security) for e in strict] == [
        ("imap", 993, "SSL"),
        ("imap", 2143, "STARTTLS"),
        ("pop3", 2110, "STARTTLS"),
        ("smtp", 2525, "STARTTLS"),
    ]
    lab = endpoints(config(True), {"imap": 40000})  # type: ignore[arg-type]
    assert ("imap", 40000, "plain") in [(e.protocol, e.port, e.security) for e in lab]
    assert [e.security for e in lab][-1] == "plain"
