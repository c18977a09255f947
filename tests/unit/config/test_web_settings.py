"""The ``web`` config section and the http/https listeners."""

from __future__ import annotations

from pathlib import Path

import pytest

from mailserver.config import Config, ConfigError, parse_config


def parse(**extra: object) -> Config:
    return parse_config({"hostname": "JServer.NetLab", **extra}, base_dir=Path("/tmp"))


def test_defaults_and_admins() -> None:
    config = parse(web={"admins": ["Teacher", "tutor"], "page_size": 20})
    assert config.web.admins == ("teacher", "tutor")
    assert config.web.is_admin("TEACHER") and not config.web.is_admin("group1_1")
    assert config.web.page_size == 20


def test_http_listeners_default_ports() -> None:
    config = parse(listeners={"http": None, "https": "127.0.0.1"})
    assert config.listeners["http"].port == 80
    assert config.listeners["https"].port == 443


@pytest.mark.parametrize(
    ("web", "key"),
    [
        ({"admin": ["x"]}, "web.admin"),
        ({"admins": "two words"}, "web.admins[0]"),
        ({"admins": {"a": 1}}, "web.admins"),
        ({"page_size": 0}, "web.page_size"),
        ({"session_lifetime": "long"}, "web.session_lifetime"),
        ("yes", "web"),
    ],
)
def test_bad_settings_name_the_key(web: object, key: str) -> None:
    with pytest.raises(ConfigError) as caught:
        parse(web=web)
    assert str(caught.value).startswith(key)
