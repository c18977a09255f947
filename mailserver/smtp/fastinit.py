"""aiosmtpd's ``SMTP.__init__`` for one connection, without its reflection.

aiosmtpd builds three tables in every ``SMTP.__init__``: AUTH mechanisms
from ``inspect.getmembers()`` of the protocol and the handler, ``handle_*``
hooks from ``dir(handler)`` and ``smtp_*`` commands from ``dir(self)``
(plus ``inspect.signature`` of the EHLO hook). With one connection per
message that reflection was about 7% of the SMTP event loop (py-spy, the
``smtp`` workload of bench/compare.py). The names in those tables depend
only on the classes, so they are found once per (protocol class, handler
class) here and each connection only binds them (``getattr``).

:func:`init_smtp` sets exactly the attributes ``SMTP.__init__`` sets for the
arguments ``LabSMTP`` passes (aiosmtpd 1.4.x);
``tests/unit/smtp/test_fastinit.py`` builds a protocol both ways and
requires the same attributes with the same values, so an aiosmtpd upgrade
that adds or changes one fails there instead of misbehaving here.
"""

from __future__ import annotations

import asyncio
import inspect
import ssl
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from aiosmtpd.smtp import SMTP, _AuthMechAttr, login_always_fail


@dataclass(frozen=True)
class _Tables:
    """Attribute names found by reflection, per (protocol class, handler class)."""

    #: (mechanism name, attribute name, whether it is the protocol's own).
    auth: tuple[tuple[str, str, bool], ...]
    #: (hook name, ``handle_*`` attribute of the handler).
    hooks: tuple[tuple[str, str], ...]
    #: (command, ``smtp_*`` attribute of the protocol).
    commands: tuple[tuple[str, str], ...]
    #: aiosmtpd's ``_ehlo_hook_ver``: None, "old" or "new".
    ehlo_hook_ver: str | None


_tables: dict[tuple[type, type], _Tables] = {}


def _tables_for(protocol: SMTP, handler: Any) -> _Tables:
    key = (type(protocol), type(handler))
    found = _tables.get(key)
    if found is not None:
        return found
    # As SMTP.__init__, once: names from the classes (members of the instances
    # that are not methods, such as properties, do not start with these prefixes).
    auth = tuple(
        (
            getattr(value, "__auth_mechanism_name__", name.replace("auth_", "").replace("__", "-")),
            name,
            owner is protocol,
        )
        for owner in (protocol, handler)
        for name, value in inspect.getmembers(owner)
        if name.startswith("auth_")
    )
    hooks = tuple(
        (name.replace("handle_", ""), name) for name in dir(handler) if name.startswith("handle_")
    )
    commands = tuple(
        (name.replace("smtp_", ""), name) for name in dir(protocol) if name.startswith("smtp_")
    )
    ehlo_hook_ver = None
    ehlo = getattr(handler, "handle_EHLO", None)
    if ehlo is not None:
        count = len(inspect.signature(ehlo).parameters)
        if count not in (4, 5):
            raise RuntimeError("Unsupported EHLO Hook")
        ehlo_hook_ver = "old" if count == 4 else "new"
    found = _Tables(auth, hooks, commands, ehlo_hook_ver)
    _tables[key] = found
    return found


def init_smtp(
    protocol: SMTP,
    handler: Any,
    *,
    data_size_limit: int | None,
    hostname: str,
    ident: str,
    tls_context: ssl.SSLContext | None,
    timeout: float,
    auth_exclude_mechanism: Iterable[str],
    auth_required: bool,
    loop: asyncio.AbstractEventLoop,
    own_commands: bool = False,
) -> None:
    """``SMTP.__init__(protocol, handler, enable_SMTPUTF8=True, decode_data=False,
    ...)`` with the tables from the per-class cache. aiosmtpd's warnings about a
    TLS context that verifies clients, and its "Available AUTH mechanisms" log
    line, are left out: our contexts never verify clients, and the line would be
    logged per connection.

    ``own_commands``: the caller sets ``_smtp_methods`` itself (``LabSMTP``'s
    command table), so the per-connection table of bound ``smtp_*`` methods
    is not built only to be thrown away (it was 2% of the SMTP event loop)."""
    protocol.__ident__ = ident
    protocol.loop = loop
    asyncio.StreamReaderProtocol.__init__(
        protocol,
        asyncio.StreamReader(loop=loop, limit=protocol.line_length_limit),
        client_connected_cb=protocol._cb_client_connected,
        loop=loop,
    )
    protocol.event_handler = handler
    protocol.data_size_limit = data_size_limit
    protocol.enable_SMTPUTF8 = True
    protocol._decode_data = False
    protocol.command_size_limits.clear()
    protocol.hostname = hostname
    protocol.tls_context = tls_context
    protocol.require_starttls = tls_context and False
    protocol._timeout_duration = timeout
    protocol._timeout_handle = None
    protocol._tls_handshake_okay = True
    protocol._tls_protocol = None
    protocol._original_transport = None
    protocol.session = None
    protocol.envelope = None
    protocol.transport = None
    protocol._handler_coroutine = None
    protocol._auth_require_tls = True
    protocol._proxy_timeout = None
    protocol._auth_callback = login_always_fail
    protocol._authenticator = None
    protocol._auth_required = auth_required
    tables = _tables_for(protocol, handler)
    excluded = set(auth_exclude_mechanism)
    protocol._auth_methods = {
        mechanism: _AuthMechAttr(getattr(protocol if own else handler, name), own)
        for mechanism, name, own in tables.auth
        if mechanism not in excluded
    }
    protocol._handle_hooks = {hook: getattr(handler, name) for hook, name in tables.hooks}
    protocol._ehlo_hook_ver = tables.ehlo_hook_ver
    protocol._smtp_methods = (
        {}
        if own_commands
        else {command: getattr(protocol, name) for command, name in tables.commands}
    )
    protocol._enforce_call_limit = False
