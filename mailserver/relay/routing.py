"""Where mail for a domain goes: a configured route, the smarthost, or MX records.

Order (Postfix's transport map, then relayhost, then DNS): ``relay.routes``
(exact domain, then ``*.parent``), ``relay.smarthost``, else MX lookup per
RFC 5321 5.1: the MX hosts by preference (equal preferences shuffled), or
the domain itself when it has no MX but has an address ("implicit MX"). A
null MX (RFC 7505: one record, ``0 .``) means the domain takes no mail: the
message bounces at once with ``556 5.1.10``.

DNS goes through dnspython's asyncio resolver (maintained, typed, handles
TCP fallback, EDNS and timeouts); the lookup is a plain function that tests
replace, so no test depends on real DNS.
"""

from __future__ import annotations

import random
from collections.abc import Awaitable, Callable
from dataclasses import dataclass

from mailserver.config.model import RelaySettings
from mailserver.relay.client import Hop

#: domain -> MX records as (preference, exchange without trailing dot); [] = no MX.
MxLookup = Callable[[str], Awaitable[list[tuple[int, str]]]]


class RoutingError(Exception):
    """No hop for the domain: ``kind`` 4 (try later) or 5 (bounce)."""

    def __init__(self, reply: str, kind: int) -> None:
        super().__init__(reply)
        self.reply = reply
        self.kind = kind


@dataclass(frozen=True)
class Destination:
    """A set of hops tried in order; ``key`` groups recipients into one transaction
    and names the destination for concurrency limits."""

    key: str
    hops: tuple[Hop, ...]


def configured(domain: str, settings: RelaySettings) -> Destination | None:
    route = settings.route_for(domain)
    if route is None:
        return None
    return Destination(key=f"[{route}]", hops=(Hop(route.host, route.port, route),))


async def resolve(domain: str, settings: RelaySettings, mx_lookup: MxLookup) -> Destination:
    """The destination for ``domain``; raises :class:`RoutingError`."""
    found = configured(domain, settings)
    if found is not None:
        return found
    records = await mx_lookup(domain)
    if len(records) == 1 and records[0][1] in ("", "."):
        raise RoutingError(f"556 5.1.10 domain {domain} does not accept mail (null MX)", 5)
    if not records:
        return Destination(key=domain.lower(), hops=(Hop(domain, 25),))
    records = [r for r in records if r[1] not in ("", ".")]
    ordered: list[tuple[int, float, str]] = [
        (preference, random.random(), host) for preference, host in records
    ]
    ordered.sort()
    hops = tuple(Hop(host, 25) for _, _, host in ordered)
    return Destination(key=domain.lower(), hops=hops)


async def dns_mx_lookup(domain: str) -> list[tuple[int, str]]:
    """MX records from DNS; NXDOMAIN bounces, trouble defers."""
    import dns.asyncresolver
    import dns.exception
    import dns.resolver

    try:
        answer = await dns.asyncresolver.resolve(domain, "MX", lifetime=30)
    except dns.resolver.NXDOMAIN:
        raise RoutingError(f"550 5.1.2 domain {domain} does not exist (NXDOMAIN)", 5) from None
    except dns.resolver.NoAnswer:
        return []
    except (dns.exception.Timeout, dns.resolver.NoNameservers) as exc:
        raise RoutingError(f"451 4.4.3 DNS lookup of {domain} failed: {exc}", 4) from None
    except dns.exception.DNSException as exc:
        raise RoutingError(f"451 4.4.3 DNS lookup of {domain} failed: {exc}", 4) from None
    records: list[tuple[int, str]] = []
    for record in answer:
        preference = int(getattr(record, "preference", 0))
        exchange = str(getattr(record, "exchange", "")).rstrip(".")
        records.append((preference, exchange))
    return records
