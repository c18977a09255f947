"""The control socket: commands from the CLI (or a supervisor) to the running server.

A Unix socket at ``data_dir/run/control.sock`` (mode 0600: only the
server's own user may talk to it). One JSON request per line,
``{"command": "throttle.unblock", "args": {"address": "10.0.0.7"}}``, one
JSON answer per line, ``{"ok": true, "result": {...}}`` or ``{"ok": false,
"error": "..."}``. Commands live in a table (``commands.py``); another
module adds its own with :func:`~mailserver.control.commands.command`.
"""

from mailserver.control.client import ControlError, call, socket_path
from mailserver.control.commands import COMMANDS, ControlContext, command
from mailserver.control.server import ControlServer

__all__ = [
    "COMMANDS",
    "ControlContext",
    "ControlError",
    "ControlServer",
    "call",
    "command",
    "socket_path",
]
