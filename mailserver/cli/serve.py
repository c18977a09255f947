"""``serve`` and ``check-config``."""

from __future__ import annotations

import argparse
import dataclasses
from pathlib import Path
from typing import Any

import yaml

from mailserver.cli.errors import CliError
from mailserver.config import Config
from mailserver.config.model import DEFAULT_SPECIAL_FOLDERS, RelayRoute
from mailserver.listeners import find_listener


def register(commands: Any) -> None:
    serve_parser = commands.add_parser("serve", help="run the server in the foreground")
    serve_parser.add_argument(
        "--ready-file",
        type=Path,
        help="write the bound ports as JSON to this file once listening (for supervisors, tests)",
    )
    serve_parser.set_defaults(handler=run_serve)
    check = commands.add_parser("check-config", help="validate the config and print it")
    check.set_defaults(handler=run_check_config)


def run_serve(config: Config, args: argparse.Namespace) -> int:
    from mailserver.server import StartupError, run

    try:
        run(config, ready_file=args.ready_file)
    except StartupError as exc:
        raise CliError(str(exc), exit_code=3) from None
    return 0


def run_check_config(config: Config, args: argparse.Namespace) -> int:
    print(yaml.safe_dump(effective_config(config), sort_keys=False), end="")
    for name in config.listeners:
        if find_listener(name) is None:
            print(f"# note: listener {name!r} is not available in this version and will be skipped")
    return 0


def effective_config(config: Config) -> dict[str, Any]:
    """The config with every default filled in, as plain YAML-friendly values."""

    def plain(value: Any) -> Any:
        if dataclasses.is_dataclass(value) and not isinstance(value, type):
            return {f.name: plain(getattr(value, f.name)) for f in dataclasses.fields(value)}
        if isinstance(value, dict):
            return {k: plain(v) for k, v in value.items()}
        if isinstance(value, tuple | list):
            return [plain(v) for v in value]
        if isinstance(value, Path):
            return str(value)
        return value

    result = plain(config)
    result["listeners"] = {name: str(addr) for name, addr in config.listeners.items()}
    result["users_file"] = str(config.user_db_path)
    result.pop("source", None)
    # Under the config file's own key, so the output is itself a valid config.
    result["relay"] = _relay_yaml(config)
    special = result.pop("special_folders")
    result["folders"] = {
        attribute[1:].lower(): special.get(attribute) for attribute in DEFAULT_SPECIAL_FOLDERS
    }
    return dict(result)


def _relay_yaml(config: Config) -> dict[str, Any]:
    """``relay`` in the config file's own form, with passwords masked."""

    def route(value: RelayRoute) -> dict[str, Any]:
        out: dict[str, Any] = {"host": str(value), "tls": value.tls}
        if value.username is not None:
            out["auth"] = {"user": value.username, "password": "********"}
        return out

    relay = config.relay
    result: dict[str, Any] = {
        "networks": list(relay.networks),
        "routes": {domain: route(value) for domain, value in relay.routes.items()},
        "smarthost": route(relay.smarthost) if relay.smarthost else None,
    }
    for item in dataclasses.fields(relay):
        if item.name not in result:
            result[item.name] = getattr(relay, item.name)
    return result
