"""A raw line-oriented TCP client: what a student types into telnet."""

from __future__ import annotations

import socket
from collections.abc import Callable


class LineClient:
    """Send lines with CRLF, read replies line by line, with a timeout on every read."""

    def __init__(self, host: str, port: int, timeout: float = 10.0) -> None:
        self.sock = socket.create_connection((host, port), timeout=timeout)
        self.file = self.sock.makefile("rb")

    def send(self, line: str | bytes) -> None:
        data = line.encode() if isinstance(line, str) else line
        self.sock.sendall(data + b"\r\n")

    def send_raw(self, data: bytes) -> None:
        self.sock.sendall(data)

    def readline_bytes(self) -> bytes:
        line = self.file.readline()
        if not line:
            raise EOFError("connection closed by server")
        return line

    def readline(self) -> str:
        return self.readline_bytes().decode("utf-8", "replace").rstrip("\r\n")

    def expect(self, prefix: str) -> str:
        """Read one line and check it starts with ``prefix``."""
        line = self.readline()
        assert line.startswith(prefix), f"expected {prefix!r}, got {line!r}"
        return line

    def read_until(self, done: Callable[[str], bool]) -> list[str]:
        """Read lines up to and including the first one for which ``done`` is true."""
        lines = []
        while True:
            line = self.readline()
            lines.append(line)
            if done(line):
                return lines

    def read_multiline(self) -> list[str]:
        """Read a dot-terminated block (POP3/SMTP style), without the final dot."""
        return self.read_until(lambda line: line == ".")[:-1]

    def close(self) -> None:
        try:
            self.file.close()
        finally:
            self.sock.close()

    def __enter__(self) -> LineClient:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
