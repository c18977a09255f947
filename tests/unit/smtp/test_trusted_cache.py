"""``DeliveryHandler.trusted`` remembers its answers per client address, boundedly."""

from __future__ import annotations

from types import SimpleNamespace
from typing import Any

from mailserver.smtp import delivery
from mailserver.smtp.delivery import DeliveryHandler


def handler(networks: list[str]) -> DeliveryHandler:
    config = SimpleNamespace(
        relay=SimpleNamespace(networks=networks),
        is_local_domain=lambda domain: False,
        postmaster="postmaster@example.org",
    )
    services: Any = SimpleNamespace(config=config, auth=SimpleNamespace(resolve=lambda a: None))
    return DeliveryHandler(services)


def test_answers_as_before_and_twice_alike() -> None:
    trusting = handler(["127.0.0.0/8", "2001:db8::/32"])
    for _ in range(2):  # the second time from the cache
        assert trusting.trusted("127.0.0.1")
        assert trusting.trusted("::ffff:127.0.0.2")  # IPv4-mapped
        assert trusting.trusted("2001:db8::5")
        assert not trusting.trusted("192.0.2.1")
        assert not trusting.trusted("not an address")


def test_the_cache_stays_bounded() -> None:
    trusting = handler(["10.0.0.0/8"])
    for n in range(delivery.TRUSTED_CACHE + 50):
        assert trusting.trusted(f"10.{n // 65536}.{n // 256 % 256}.{n % 256}")
    assert len(trusting._trusted) <= delivery.TRUSTED_CACHE
