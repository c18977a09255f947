"""``throttle list|unblock ADDR``: the running server's login blocks, over the control socket."""

from __future__ import annotations

import argparse
from typing import Any

from mailserver.cli.errors import CliError
from mailserver.config import Config
from mailserver.control import ControlError, call


def register(commands: Any) -> None:
    throttle = commands.add_parser(
        "throttle", help="show or lift the running server's blocks on guessing addresses"
    )
    actions = throttle.add_subparsers(dest="action", metavar="ACTION", required=True)
    listing = actions.add_parser("list", help="blocked addresses and recent login failures")
    listing.set_defaults(handler=run_list)
    unblock = actions.add_parser("unblock", help="lift the block on one client address")
    unblock.add_argument("address", metavar="ADDR", help="the client's IP address")
    unblock.set_defaults(handler=run_unblock)


def _call(config: Config, name: str, **args: Any) -> dict[str, Any]:
    try:
        return call(config, name, **args)
    except ControlError as exc:
        raise CliError(str(exc)) from None


def run_list(config: Config, args: argparse.Namespace) -> int:
    result = _call(config, "throttle.list")
    blocked = result.get("blocked") or []
    failing = result.get("failing") or []
    if not blocked:
        print("no address is blocked")
    for entry in blocked:
        print(f"blocked  {entry['address']:<40} {entry['seconds_left']:>6}s left")
    for entry in failing:
        count = int(entry["failures"])
        noun = "recent failure" if count == 1 else "recent failures"
        print(f"failing  {entry['key']:<40} {count:>6} {noun}")
    return 0


def run_unblock(config: Config, args: argparse.Namespace) -> int:
    result = _call(config, "throttle.unblock", address=args.address)
    if result.get("was_blocked"):
        print(f"{args.address} unblocked")
    else:
        print(f"{args.address} was not blocked (its failure count is cleared)")
    return 0
