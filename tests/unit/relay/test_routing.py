"""Routes, smarthost, then MX (RFC 5321 5.1) with null MX (RFC 7505); no real DNS."""

from __future__ import annotations

import pytest

from mailserver.config.model import RelayRoute, RelaySettings
from mailserver.relay.routing import RoutingError, resolve


def lookup(records: dict[str, list[tuple[int, str]]]):  # type: ignore[no-untyped-def]
    async def mx(domain: str) -> list[tuple[int, str]]:
        return records[domain]

    return mx


async def test_route_wins_then_smarthost() -> None:
    settings = RelaySettings(
        routes={"group2.lab": RelayRoute("10.0.0.2", 2525)},
        smarthost=RelayRoute("smtp.provider.example", 587),
    )
    routed = await resolve("Group2.Lab", settings, lookup({}))
    assert [(h.host, h.port) for h in routed.hops] == [("10.0.0.2", 2525)]
    smart = await resolve("example.com", settings, lookup({}))
    assert [(h.host, h.port) for h in smart.hops] == [("smtp.provider.example", 587)]
    # Different domains through one smarthost share one destination (one transaction).
    assert (await resolve("example.org", settings, lookup({}))).key == smart.key


async def test_mx_by_preference_then_implicit_mx() -> None:
    mx = lookup({"example.com": [(20, "b.example.com"), (10, "a.example.com")], "bare.org": []})
    found = await resolve("example.com", RelaySettings(), mx)
    assert [h.host for h in found.hops] == ["a.example.com", "b.example.com"]
    assert all(h.port == 25 for h in found.hops)
    implicit = await resolve("bare.org", RelaySettings(), mx)
    assert [h.host for h in implicit.hops] == ["bare.org"]


async def test_null_mx_bounces_at_once() -> None:
    with pytest.raises(RoutingError) as caught:
        await resolve("nomail.example", RelaySettings(), lookup({"nomail.example": [(0, "")]}))
    assert caught.value.kind == 5 and caught.value.reply.startswith("556 5.1.10")
