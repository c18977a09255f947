"""The Dockerfile cannot be built in CI; what it copies can still be checked."""

from __future__ import annotations

import fnmatch
from pathlib import Path

REPO = Path(__file__).resolve().parents[3]


def ignored(path: str) -> bool:
    patterns = [
        line.strip()
        for line in (REPO / ".dockerignore").read_text().splitlines()
        if line.strip() and not line.startswith("#")
    ]
    parts = path.split("/")
    prefixes = ["/".join(parts[: n + 1]) for n in range(len(parts))]
    return any(fnmatch.fnmatch(prefix, pattern) for pattern in patterns for prefix in prefixes)


def test_image_never_gets_local_mail_accounts_or_keys() -> None:
    """``COPY config`` would otherwise bake config/data (scripts/run's mail,
    users.yaml with lab secrets, the TLS private key) into the image."""
    for path in ("config/data/users.yaml", "config/data/tls/key.pem", "config/data/mail/x/new/1"):
        assert ignored(path), path
    for path in ("config/lab.yaml", "mailserver/server.py", "pyproject.toml", "README.md"):
        assert not ignored(path), path


def test_dockerfile_runs_the_lab_config_it_copies() -> None:
    text = (REPO / "Dockerfile").read_text()
    assert "COPY config ./config" in text
    assert "config/lab.yaml" in text and (REPO / "config" / "lab.yaml").is_file()
