"""Small helpers shared by the SMTP integration tests (reading what was delivered)."""

from __future__ import annotations

import base64
import mailbox
from pathlib import Path

from tests.support.lines import LineClient
from tests.support.server import ServerProcess

DOMAIN = "JServer.NetLab"


def b64(text: str | bytes) -> str:
    return base64.b64encode(text.encode() if isinstance(text, str) else text).decode()


def delivered(server: ServerProcess, user: str) -> list[mailbox.MaildirMessage]:
    """Messages in the user's INBOX, read with Python's own maildir reader."""
    path: Path = server.maildir(user)
    if not (path / "new").is_dir():
        return []
    box = mailbox.Maildir(path, factory=None, create=False)
    return list(box)


def raw_delivered(server: ServerProcess, user: str) -> list[bytes]:
    """The stored files' bytes, in no particular order."""
    path = server.maildir(user)
    return [f.read_bytes() for sub in ("new", "cur") for f in sorted((path / sub).glob("*"))]


def connect(server: ServerProcess) -> LineClient:
    client = LineClient(server.host, server.ports["smtp"])
    client.expect("220 JServer.NetLab ESMTP ready")
    return client


def converse(client: LineClient, transcript: str) -> list[str]:
    """Play ``C:``/``S:`` lines; ``S:`` lines are prefixes; returns the replies read."""
    got = []
    for raw in transcript.splitlines():
        line = raw.strip()
        if not line:
            continue
        who, _, text = line.partition(":")
        text = text[1:] if text.startswith(" ") else text
        if who == "C":
            client.send(text)
        elif who == "S":
            got.append(client.expect(text))
        else:
            raise ValueError(raw)
    return got
