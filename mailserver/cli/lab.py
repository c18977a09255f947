"""``lab provision|remove``: the bulk accounts of a networking lab.

Group ``n`` (1..groups), seat ``m`` (1..seats) gets user ``groupn_m`` whose
password is also ``groupn_m`` (the lab handouts' convention).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import time
from typing import Any

from mailserver.activity import EXERCISES, load_activity
from mailserver.activity.overview import AccountStatus, class_overview, human_size
from mailserver.auth import UserError
from mailserver.cli.errors import CliError
from mailserver.cli.users import open_users
from mailserver.config import Config
from mailserver.server import build_store


def lab_user_names(groups: int, seats: int) -> list[str]:
    return [f"group{g}_{s}" for g in range(1, groups + 1) for s in range(1, seats + 1)]


def register(commands: Any) -> None:
    lab = commands.add_parser("lab", help="create, reset or remove the lab's groupN_M accounts")
    actions = lab.add_subparsers(dest="action", metavar="ACTION", required=True)

    provision = actions.add_parser(
        "provision", help="create groupN_M accounts (password = name); existing ones are kept"
    )
    _add_size_arguments(provision)
    provision.add_argument(
        "--reset",
        action="store_true",
        help="set every lab account's password back to its name",
    )
    provision.add_argument(
        "--no-plain-secret",
        dest="plain_secret",
        action="store_false",
        help="store only password hashes (then APOP and CRAM-MD5 do not work for them); "
        "by default a plaintext-equivalent secret is kept, since a lab password equals the "
        "public user name anyway",
    )
    provision.set_defaults(handler=run_provision)

    remove = actions.add_parser("remove", help="delete the groupN_M accounts")
    _add_size_arguments(remove)
    remove.add_argument("--purge", action="store_true", help="also delete their mail")
    remove.set_defaults(handler=run_remove)

    status = actions.add_parser(
        "status",
        help="class overview: every account's mail, last login and the exercises it has done",
    )
    status.add_argument("--json", action="store_true", help="print JSON instead of a table")
    status.set_defaults(handler=run_status)


def _add_size_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--groups", type=_positive, default=12, help="number of groups (12)")
    parser.add_argument("--seats", type=_positive, default=6, help="seats per group (6)")


def _positive(text: str) -> int:
    value = int(text)
    if not 1 <= value <= 999:
        raise argparse.ArgumentTypeError("expected a number from 1 to 999")
    return value


def run_provision(config: Config, args: argparse.Namespace) -> int:
    names = lab_user_names(args.groups, args.seats)
    users = open_users(config)
    existing = {name for name in names if users.exists(name)}
    try:
        changed = users.add_many(
            ((name, name) for name in names), plain_secret=args.plain_secret, replace=args.reset
        )
    except UserError as exc:
        raise CliError(str(exc)) from None
    asyncio.run(_create_mailboxes(config, names))
    print(provision_summary(names, changed, existing, reset=args.reset))
    return 0


def provision_summary(
    names: list[str], changed: list[str], existing: set[str], *, reset: bool
) -> str:
    """What ``lab provision`` did, worded so that a second run does not read like a failure."""
    created = [name for name in changed if name not in existing]
    kept = "passwords kept; --reset sets them back"
    if reset:
        summary = (
            f"{len(changed)} of {len(names)} lab accounts reset to password = name "
            f"({names[0]} .. {names[-1]})"
        )
        if created:
            summary += f", {len(created)} of them new"
        if len(changed) < len(names):
            summary += f"; {len(names) - len(changed)} already had it"
        return summary
    if not created:
        return f"{len(existing)} lab accounts already exist ({kept})"
    summary = f"{len(created)} of {len(names)} lab accounts created ({created[0]} .. {created[-1]})"
    if existing:
        summary += f"; {len(existing)} already existed ({kept})"
    return summary


async def _create_mailboxes(config: Config, names: list[str]) -> None:
    store = build_store(config)
    for name in names:
        await store.mailbox(name)


def run_remove(config: Config, args: argparse.Namespace) -> int:
    names = lab_user_names(args.groups, args.seats)
    removed = open_users(config).delete_many(names)
    if args.purge:
        asyncio.run(_purge(config, names))
    print(f"{len(removed)} lab accounts removed" + (" with their mail" if args.purge else ""))
    return 0


async def _purge(config: Config, names: list[str]) -> None:
    store = build_store(config)
    for name in names:
        await store.delete_mailbox(name)


def run_status(config: Config, args: argparse.Namespace) -> int:
    """Reads the files the running server keeps; works whether it runs or not."""
    names = open_users(config).names()
    activity = load_activity(config.activity_path)
    rows = asyncio.run(class_overview(names, build_store(config), activity))
    if args.json:
        print(json.dumps([row.as_json() for row in rows], indent=1))
        return 0
    print(format_status(rows))
    return 0


def format_status(rows: list[AccountStatus]) -> str:
    """The table ``lab status`` prints, with a legend of the exercise keys."""
    width = max([len("account"), *(len(row.name) for row in rows)])
    lines = [
        f"{'account':<{width}}  {'msgs':>5}  {'size':>9}  {'last login':<19}  "
        f"{'via':<5}  exercises done"
    ]
    for row in rows:
        when = (
            time.strftime("%Y-%m-%d %H:%M:%S", time.localtime(row.last_login))
            if row.last_login
            else "never"
        )
        lines.append(
            f"{row.name:<{width}}  {row.messages:>5}  {human_size(row.octets):>9}  {when:<19}  "
            f"{row.protocol or '-':<5}  {', '.join(row.exercises) or '-'}"
        )
    lines.append("")
    lines += [f"  {exercise.key:<15} {exercise.title}" for exercise in EXERCISES]
    return "\n".join(lines)
