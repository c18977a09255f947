"""``user add|passwd|del|list``: manage accounts in the user database."""

from __future__ import annotations

import argparse
import asyncio
import getpass
import sys
from typing import Any

from mailserver.activity.overview import natural_key
from mailserver.auth import UserDatabase, UserError
from mailserver.cli.errors import CliError
from mailserver.config import Config
from mailserver.server import build_store


def register(commands: Any) -> None:
    user = commands.add_parser("user", help="add, change, delete or list accounts")
    actions = user.add_subparsers(dest="action", metavar="ACTION", required=True)

    add = actions.add_parser("add", help="create an account")
    add.add_argument("name")
    add.add_argument("--password", help="the password (read from standard input if omitted)")
    add.add_argument(
        "--plain-secret",
        action="store_true",
        help="also keep a plaintext-equivalent secret (needed for APOP and CRAM-MD5)",
    )
    add.set_defaults(handler=run_add)

    passwd = actions.add_parser("passwd", help="change an account's password")
    passwd.add_argument("name")
    passwd.add_argument("--password", help="the new password (read from standard input if omitted)")
    passwd.add_argument("--plain-secret", action="store_true", default=None)
    passwd.set_defaults(handler=run_passwd)

    delete = actions.add_parser("del", help="delete an account")
    delete.add_argument("name")
    delete.add_argument("--purge", action="store_true", help="also delete the account's mail")
    delete.set_defaults(handler=run_delete)

    listing = actions.add_parser("list", help="list accounts")
    listing.set_defaults(handler=run_list)


def open_users(config: Config) -> UserDatabase:
    try:
        return UserDatabase(config.user_db_path, scheme=config.auth.password_scheme)
    except UserError as exc:
        raise CliError(str(exc)) from None


def read_password(given: str | None) -> str:
    """Take the password from the flag, a terminal prompt, or one line of stdin."""
    if given is not None:
        return given
    if sys.stdin.isatty():
        first = getpass.getpass("Password: ")
        if getpass.getpass("Again: ") != first:
            raise CliError("the passwords do not match")
        password = first
    else:
        password = sys.stdin.readline().rstrip("\r\n")
    if not password:
        raise CliError("empty password")
    return password


def run_add(config: Config, args: argparse.Namespace) -> int:
    users = open_users(config)
    try:
        users.add(args.name, read_password(args.password), plain_secret=args.plain_secret)
    except UserError as exc:
        raise CliError(str(exc)) from None
    asyncio.run(build_store(config).mailbox(args.name.lower()))
    print(f"user {args.name.lower()} added")
    return 0


def run_passwd(config: Config, args: argparse.Namespace) -> int:
    users = open_users(config)
    try:
        users.set_password(args.name, read_password(args.password), plain_secret=args.plain_secret)
    except UserError as exc:
        raise CliError(str(exc)) from None
    print(f"password of {args.name.lower()} changed")
    return 0


def run_delete(config: Config, args: argparse.Namespace) -> int:
    users = open_users(config)
    try:
        users.delete(args.name)
    except UserError as exc:
        raise CliError(str(exc)) from None
    if args.purge:
        asyncio.run(build_store(config).delete_mailbox(args.name.lower()))
    print(f"user {args.name.lower()} deleted" + (" with their mail" if args.purge else ""))
    return 0


def run_list(config: Config, args: argparse.Namespace) -> int:
    """One line per account in natural order (group2_1 before group10_1), with how
    many messages it holds and their size in all folders."""
    names = sorted(open_users(config).names(), key=natural_key)
    usage = asyncio.run(_usage(config, names))
    width = max([len("USER"), *(len(name) for name in names)])
    print(f"{'USER':<{width}}  {'MESSAGES':>8}  {'SIZE':>10}")
    for name in names:
        octets, messages = usage[name]
        print(f"{name:<{width}}  {messages:>8}  {human_size(octets):>10}")
    return 0


async def _usage(config: Config, names: list[str]) -> dict[str, tuple[int, int]]:
    store = build_store(config)
    return {name: await (await store.mailbox(name)).usage() for name in names}


def human_size(octets: int) -> str:
    """``0 B``, ``812 B``, ``2.0 KiB``, ``3.4 MiB``: what an instructor reads at a glance."""
    size, unit = float(octets), "B"
    for bigger in ("KiB", "MiB", "GiB"):
        if size < 1024:
            break
        size, unit = size / 1024, bigger
    return f"{octets} B" if unit == "B" else f"{size:.1f} {unit}"
