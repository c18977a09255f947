"""Serve the control socket on the server's event loop."""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import os
from pathlib import Path
from typing import Any

from mailserver.control.commands import COMMANDS, CommandError, ControlContext

log = logging.getLogger(__name__)

#: Longest request line; control requests are tiny.
MAX_REQUEST = 65536
#: A client that sends nothing for this long is dropped.
IDLE_TIMEOUT = 30.0


class ControlServer:
    """``start()`` binds the socket (replacing a stale one), ``close()`` removes it."""

    def __init__(self, path: Path, context: ControlContext) -> None:
        self.path = path
        self.context = context
        self._server: asyncio.Server | None = None

    async def start(self) -> None:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        os.chmod(self.path.parent, 0o700)
        with contextlib.suppress(FileNotFoundError):
            self.path.unlink()  # left by a server that did not exit cleanly
        old_umask = os.umask(0o177)
        try:
            self._server = await asyncio.start_unix_server(
                self._serve, path=str(self.path), limit=MAX_REQUEST
            )
        finally:
            os.umask(old_umask)

    async def close(self) -> None:
        if self._server is not None:
            self._server.close()
            with contextlib.suppress(Exception):
                await asyncio.wait_for(self._server.wait_closed(), 1.0)
            self._server = None
        with contextlib.suppress(FileNotFoundError):
            self.path.unlink()

    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            while True:
                try:
                    line = await asyncio.wait_for(reader.readline(), IDLE_TIMEOUT)
                except (TimeoutError, ValueError, ConnectionError):
                    return
                if not line:
                    return
                answer = await self.handle(line)
                writer.write(json.dumps(answer).encode() + b"\n")
                await writer.drain()
        except ConnectionError:
            return
        finally:
            writer.close()

    async def handle(self, line: bytes) -> dict[str, Any]:
        """One request line -> one answer; never raises."""
        try:
            request = json.loads(line)
            name = request["command"]
            args = request.get("args") or {}
            if not isinstance(name, str) or not isinstance(args, dict):
                raise TypeError
        except (ValueError, KeyError, TypeError):
            return {"ok": False, "error": 'expected {"command": NAME, "args": {...}}'}
        function = COMMANDS.get(name)
        if function is None:
            return {"ok": False, "error": f"unknown command {name!r}"}
        try:
            result = await function(self.context, args)
        except CommandError as exc:
            return {"ok": False, "error": str(exc)}
        except Exception:
            log.exception("control command %s failed", name)
            return {"ok": False, "error": "internal error (see the server log)"}
        return {"ok": True, "result": result}
