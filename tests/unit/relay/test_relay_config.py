"""``relay:`` in the YAML: routes, smarthost, networks, retry times; mistakes name the key."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import pytest

from mailserver.config import ConfigError
from mailserver.config.loader import parse_config
from mailserver.config.model import RelayRoute, RelaySettings


def relay(value: Any, **extra: Any) -> RelaySettings:
    raw = {"hostname": "group1.lab", "domains": ["group1.lab"], "relay": value, **extra}
    return parse_config(raw, base_dir=Path("/tmp")).relay


def test_defaults_are_postfix_like() -> None:
    settings = relay(None)
    assert settings.min_backoff == 300 and settings.max_backoff == 4000
    assert settings.lifetime == 5 * 86400 and settings.delay_warning == 4 * 3600
    assert settings.networks == () and settings.routes == {} and settings.smarthost is None


def test_routes_smarthost_and_networks() -> None:
    settings = relay(
        {
            "routes": {
                "Group2.Lab": "10.0.0.2:2525",
                "*.netlab": {"host": "[::1]:25", "tls": "required"},
            },
            "smarthost": {
                "host": "smtp.provider.example:587",
                "auth": {"user": "site", "password": "secret"},
            },
            "networks": ["10.0.0.0/24", "192.168.1.7"],
            "min_backoff": 1,
            "max_backoff": 2,
        }
    )
    assert settings.routes["group2.lab"] == RelayRoute("10.0.0.2", 2525)
    assert settings.routes["*.netlab"] == RelayRoute("::1", 25, tls="required")
    assert settings.smarthost == RelayRoute(
        "smtp.provider.example", 587, username="site", password="secret"
    )
    assert settings.networks == ("10.0.0.0/24", "192.168.1.7/32")
    assert settings.route_for("GROUP2.lab.") == settings.routes["group2.lab"]
    assert settings.route_for("a.b.netlab") == settings.routes["*.netlab"]
    assert settings.route_for("netlab") == settings.smarthost
    assert settings.route_for("example.com") == settings.smarthost


@pytest.mark.parametrize(
    ("value", "message"),
    [
        ({"routes": {"group1.lab": "10.0.0.2"}}, "relay.routes.group1.lab: group1.lab is one of"),
        ({"routes": {"x.lab": "127.0.0.1:2525"}}, "our own smtp listener (route to self)"),
        ({"smarthost": "localhost:2525"}, "relay.smarthost: localhost:2525 is our own smtp"),
        ({"routes": {"x.lab": "h:port"}}, "relay.routes.x.lab: port must be a number"),
        ({"routes": {"x.lab": {"host": "h", "tls": "maybe"}}}, "relay.routes.x.lab.tls"),
        ({"smarthost": {"host": "h", "auth": {"user": "u"}}}, "relay.smarthost.auth: give both"),
        ({"networks": ["10.0.0.0/33"]}, "relay.networks[0]"),
        ({"min_backoff": 10, "max_backoff": 5}, "relay.max_backoff"),
        ({"lifetime": 0}, "relay.lifetime"),
        ({"max_connections": 0}, "relay.max_connections"),
        ({"retries": 3}, "relay.retries: unknown setting"),
    ],
)
def test_mistakes_name_the_key(value: Any, message: str) -> None:
    with pytest.raises(ConfigError, match=re.escape(message)):
        relay(value, listeners={"smtp": "127.0.0.1:2525"})
