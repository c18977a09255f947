"""``fastinit.init_smtp`` leaves a protocol exactly as aiosmtpd's ``SMTP.__init__`` does.

If an aiosmtpd upgrade adds, renames or changes an attribute its
``__init__`` sets, these tests fail, rather than sessions misbehaving.
"""

from __future__ import annotations

import asyncio
import ssl
import types
import weakref
from typing import Any

import pytest
from aiosmtpd.smtp import SMTP

from mailserver.smtp import fastinit
from mailserver.smtp.delivery import DeliveryHandler
from mailserver.smtp.protocol import LabSMTP


class Handler:
    """A handler with hooks of both kinds and a mechanism of its own."""

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        return "250 OK"

    async def handle_EHLO(
        self, server: Any, session: Any, envelope: Any, hostname: str, responses: list[str]
    ) -> list[str]:
        return responses

    async def auth_FOO__BAR(self, server: Any, args: list[str]) -> Any:
        return None


class Probe(SMTP):
    async def auth_OWN(self, server: Any, args: list[str]) -> Any:
        return None


def same(left: object, right: object, a: object, b: object) -> bool:
    """Equal, where objects made per instance count as equal when made alike."""
    if isinstance(left, types.MethodType) and isinstance(right, types.MethodType):
        owner_ok = (left.__self__ is a and right.__self__ is b) or left.__self__ is right.__self__
        return left.__func__ is right.__func__ and owner_ok
    if isinstance(left, asyncio.StreamReader) and isinstance(right, asyncio.StreamReader):
        return left._limit == right._limit  # type: ignore[attr-defined]
    if isinstance(left, dict) and isinstance(right, dict):
        return left.keys() == right.keys() and all(same(left[k], right[k], a, b) for k in left)
    if isinstance(left, tuple) and isinstance(right, tuple):
        return len(left) == len(right) and all(
            same(x, y, a, b) for x, y in zip(left, right, strict=True)
        )
    if isinstance(left, weakref.ref) and isinstance(right, weakref.ref):
        return same(left(), right(), a, b)
    if isinstance(left, asyncio.Future) and isinstance(right, asyncio.Future):
        return left.done() == right.done()
    return bool(left == right)


def build(cls: type[SMTP], handler: object, fast: bool, **options: Any) -> SMTP:
    protocol = cls.__new__(cls)
    protocol.line_length_limit = 4099
    loop = asyncio.get_running_loop()
    common: dict[str, Any] = {
        "data_size_limit": 1000,
        "hostname": "mx.example",
        "ident": "test ident",
        "timeout": 30.0,
        "auth_exclude_mechanism": ("LOGIN", "PLAIN"),
        "loop": loop,
        **options,
    }
    if fast:
        fastinit.init_smtp(protocol, handler, **common)
    else:
        SMTP.__init__(protocol, handler, enable_SMTPUTF8=True, decode_data=False, **common)
    return protocol


@pytest.mark.parametrize(
    ("cls", "handler_type"), [(Probe, Handler), (LabSMTP, DeliveryHandler), (Probe, object)]
)
@pytest.mark.parametrize("auth_required", [False, True])
@pytest.mark.parametrize("tls", [False, True])
async def test_same_attributes_as_aiosmtpd(
    cls: type[SMTP], handler_type: type, auth_required: bool, tls: bool
) -> None:
    handler = object.__new__(handler_type)  # its methods are all that is looked at
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER) if tls else None
    options = {"auth_required": auth_required, "tls_context": context}
    for _ in range(2):  # the second time from the cache
        slow = build(cls, handler, fast=False, **options)
        fast = build(cls, handler, fast=True, **options)
        assert vars(fast).keys() == vars(slow).keys()
        for name, value in vars(slow).items():
            assert same(value, vars(fast)[name], slow, fast), name


async def test_tables_name_the_mechanisms_and_hooks() -> None:
    fast = build(Probe, Handler(), fast=True, auth_required=False, tls_context=None)
    assert set(fast._auth_methods) == {"OWN", "FOO-BAR"}  # LOGIN, PLAIN excluded
    assert fast._auth_methods["OWN"].is_builtin
    assert not fast._auth_methods["FOO-BAR"].is_builtin
    assert set(fast._handle_hooks) == {"DATA", "EHLO"}
    assert fast._ehlo_hook_ver == "new"
    assert fast._smtp_methods["NOOP"].__self__ is fast


async def test_own_commands_skips_the_bound_command_table() -> None:
    """LabSMTP replaces ``_smtp_methods`` with its CommandTable: init_smtp must not
    bind every ``smtp_*`` method per connection only for it to be thrown away."""
    handler = object.__new__(DeliveryHandler)
    fast = build(
        LabSMTP, handler, fast=True, auth_required=False, tls_context=None, own_commands=True
    )
    assert fast._smtp_methods == {}
    assert fast._handle_hooks  # the rest as before
