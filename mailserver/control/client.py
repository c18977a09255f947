"""Call the running server's control socket from the CLI (blocking, one request)."""

from __future__ import annotations

import json
import socket
from pathlib import Path
from typing import Any

from mailserver.config import Config

#: Seconds the CLI waits for the server's answer.
TIMEOUT = 10.0


class ControlError(Exception):
    """The server is not running, or it refused the request; the message says which."""


def socket_path(config: Config) -> Path:
    return config.run_dir / "control.sock"


def call(config: Config, name: str, **args: Any) -> dict[str, Any]:
    """Send one command and return its result."""
    path = socket_path(config)
    try:
        with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as sock:
            sock.settimeout(TIMEOUT)
            sock.connect(str(path))
            sock.sendall(json.dumps({"command": name, "args": args}).encode() + b"\n")
            data = b""
            while not data.endswith(b"\n"):
                chunk = sock.recv(65536)
                if not chunk:
                    break
                data += chunk
    except (FileNotFoundError, ConnectionRefusedError):
        raise ControlError(f"the server is not running (no control socket at {path})") from None
    except OSError as exc:
        raise ControlError(f"cannot talk to the server at {path}: {exc}") from None
    try:
        answer = json.loads(data)
    except ValueError:
        raise ControlError("the server sent no valid answer") from None
    if not answer.get("ok"):
        raise ControlError(str(answer.get("error") or "the server refused the request"))
    result: dict[str, Any] = answer.get("result") or {}
    return result
