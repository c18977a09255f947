"""Start-up errors an operator reads: they name the port and the cure."""

from __future__ import annotations

import errno

from mailserver import listeners
from mailserver.startup import bind_error_message


def test_privileged_port_without_root_names_the_port() -> None:
    message = bind_error_message("smtp", "0.0.0.0", 25, PermissionError(errno.EACCES, "denied"))
    assert "port 25" in message and "root" in message


def test_unknown_protocol_module_is_reported_as_unavailable(monkeypatch) -> None:
    monkeypatch.setitem(listeners.LISTENERS, "smtps", "mailserver.not_built_yet:start_listener")
    assert listeners.find_listener("smtps") is None
    assert listeners.find_listener("no-such-key") is None
