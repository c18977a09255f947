"""YAML configuration turned into one frozen, validated :class:`Config`."""

from mailserver.config.errors import ConfigError
from mailserver.config.loader import load_config, parse_config
from mailserver.config.model import (
    AuthSettings,
    Config,
    Limits,
    ListenAddress,
    TimeoutSettings,
    TlsSettings,
)

__all__ = [
    "AuthSettings",
    "Config",
    "ConfigError",
    "Limits",
    "ListenAddress",
    "TimeoutSettings",
    "TlsSettings",
    "load_config",
    "parse_config",
]
