"""Clients that set themselves up: Thunderbird autoconfig and Outlook autodiscover.

A student types an address and a password; the mail program fetches these
documents and finds host, ports, TLS mode and login name. Everything is
derived from the running config (host name, listeners with the ports they
really bound, ``auth.allow_plaintext_without_tls``), never written by hand:

* Thunderbird: ``GET /.well-known/autoconfig/mail/config-v1.1.xml`` and
  ``GET /mail/config-v1.1.xml`` (the ``autoconfig.<domain>`` form), format
  ``clientConfig`` version 1.1.
* Outlook: ``POST /autodiscover/autodiscover.xml`` (POX schema 2006a); the
  request body is bounded and searched for ``<EMailAddress>`` only, never
  fed to an XML parser (no entity tricks).

Servers are listed best first: implicit TLS, then STARTTLS, then (only when
the config allows plaintext logins) the same ports without TLS.
"""

from __future__ import annotations

import re
import xml.etree.ElementTree as ET
from dataclasses import dataclass

from aiohttp import web

from mailserver.config import Config
from mailserver.web.keys import CSRF_EXEMPT, SERVICES

#: Largest autodiscover request read.
MAX_REQUEST = 64 * 1024
_EMAIL = re.compile(r"<EMailAddress>\s*([^<\s]{1,320})\s*</EMailAddress>", re.IGNORECASE)

AUTODISCOVER_PATHS = ("/autodiscover/autodiscover.xml", "/Autodiscover/Autodiscover.xml")
NS_RESPONSE = "http://schemas.microsoft.com/exchange/autodiscover/responseschema/2006"
NS_OUTLOOK = "http://schemas.microsoft.com/exchange/autodiscover/outlook/responseschema/2006a"


@dataclass(frozen=True)
class Endpoint:
    """One way to reach one protocol: ``security`` is ``SSL``, ``STARTTLS`` or ``plain``."""

    listener: str
    protocol: str  # imap | pop3 | smtp
    port: int
    security: str


#: Listener -> (protocol, security when the listener itself is used), in order of
#: preference within the same security (RFC 8314: implicit TLS first).
_LISTENERS = {
    "imaps": ("imap", "SSL"),
    "imap": ("imap", "STARTTLS"),
    "pop3s": ("pop3", "SSL"),
    "pop3": ("pop3", "STARTTLS"),
    "smtps": ("smtp", "SSL"),
    "submission": ("smtp", "STARTTLS"),
    "smtp": ("smtp", "STARTTLS"),
}
_RANK = {"SSL": 0, "STARTTLS": 1, "plain": 2}


def endpoints(config: Config, ports: dict[str, int]) -> list[Endpoint]:
    """Every configured mail listener as a client should use it, best first."""
    found: list[Endpoint] = []
    for listener, (protocol, security) in _LISTENERS.items():
        address = config.listeners.get(listener)
        if address is None:
            continue
        port = ports.get(listener, address.port)
        found.append(Endpoint(listener, protocol, port, security))
        if security == "STARTTLS" and config.auth.allow_plaintext_without_tls:
            found.append(Endpoint(listener, protocol, port, "plain"))
    preference = list(_LISTENERS)
    return sorted(found, key=lambda e: (_RANK[e.security], preference.index(e.listener)))


def setup(app: web.Application) -> None:
    for path in ("/.well-known/autoconfig/mail/config-v1.1.xml", "/mail/config-v1.1.xml"):
        app.router.add_get(path, thunderbird)
    for path in AUTODISCOVER_PATHS:
        app.router.add_post(path, outlook)
        app[CSRF_EXEMPT].add(path)


def _xml(root: ET.Element) -> web.Response:
    body = b'<?xml version="1.0" encoding="UTF-8"?>\n' + ET.tostring(root, encoding="utf-8")
    return web.Response(body=body, content_type="application/xml", charset="utf-8")


async def thunderbird(request: web.Request) -> web.StreamResponse:
    """Public on purpose: it names only what any port scan would show."""
    services = request.app[SERVICES]
    config = services.config
    root = ET.Element("clientConfig", version="1.1")
    provider = ET.SubElement(root, "emailProvider", id=config.domains[0])
    for domain in config.domains:
        ET.SubElement(provider, "domain").text = domain
    ET.SubElement(provider, "displayName").text = f"{config.hostname} mail"
    ET.SubElement(provider, "displayShortName").text = config.hostname
    for endpoint in endpoints(config, services.ports):
        kind = "outgoingServer" if endpoint.protocol == "smtp" else "incomingServer"
        server = ET.SubElement(provider, kind, type=endpoint.protocol)
        ET.SubElement(server, "hostname").text = config.hostname
        ET.SubElement(server, "port").text = str(endpoint.port)
        ET.SubElement(server, "socketType").text = endpoint.security
        ET.SubElement(server, "authentication").text = "password-cleartext"
        ET.SubElement(server, "username").text = "%EMAILLOCALPART%"
    return _xml(root)


async def outlook(request: web.Request) -> web.StreamResponse:
    services = request.app[SERVICES]
    config = services.config
    body = await request.content.read(MAX_REQUEST)
    match = _EMAIL.search(body.decode("utf-8", errors="replace"))
    address = match.group(1) if match else ""
    local = address.rpartition("@")[0] or address
    root = ET.Element("Autodiscover", xmlns=NS_RESPONSE)
    response = ET.SubElement(root, "Response", xmlns=NS_OUTLOOK)
    if address:
        user = ET.SubElement(response, "User")
        ET.SubElement(user, "EMailAddress").text = address
    account = ET.SubElement(response, "Account")
    ET.SubElement(account, "AccountType").text = "email"
    ET.SubElement(account, "Action").text = "settings"
    chosen: dict[str, Endpoint] = {}
    for endpoint in endpoints(config, services.ports):
        chosen.setdefault(endpoint.protocol, endpoint)  # the best one of each
    for endpoint in chosen.values():
        protocol = ET.SubElement(account, "Protocol")
        ET.SubElement(protocol, "Type").text = endpoint.protocol.upper()
        ET.SubElement(protocol, "Server").text = config.hostname
        ET.SubElement(protocol, "Port").text = str(endpoint.port)
        ET.SubElement(protocol, "DomainRequired").text = "off"
        if local:
            ET.SubElement(protocol, "LoginName").text = local
        ET.SubElement(protocol, "SPA").text = "off"
        ET.SubElement(protocol, "SSL").text = "off" if endpoint.security == "plain" else "on"
        ET.SubElement(protocol, "Encryption").text = {
            "SSL": "SSL",
            "STARTTLS": "TLS",
            "plain": "None",
        }[endpoint.security]
        ET.SubElement(protocol, "AuthRequired").text = "on"
        if endpoint.protocol == "smtp":
            ET.SubElement(protocol, "UsePOPAuth").text = "on"
            ET.SubElement(protocol, "SMTPLast").text = "off"
    return _xml(root)
