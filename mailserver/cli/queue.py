"""``queue list|show|flush|retry|delete``: the operator's view of the relay queue."""

from __future__ import annotations

import argparse
import json
import time
from typing import Any

from mailserver.cli.errors import CliError
from mailserver.config import Config
from mailserver.relay import admin
from mailserver.relay.queue import QueueStore
from mailserver.smtp.message import split_header


def register(commands: Any) -> None:
    queue = commands.add_parser("queue", help="list, show, flush, retry or delete queued mail")
    actions = queue.add_subparsers(dest="action", metavar="ACTION", required=True)
    actions.add_parser("list", help="queued messages and why they wait").set_defaults(
        handler=run_list
    )
    show = actions.add_parser("show", help="one entry: envelope, states and headers")
    show.add_argument("id")
    show.set_defaults(handler=run_show)
    actions.add_parser("flush", help="retry every deferred message now").set_defaults(
        handler=run_flush
    )
    retry = actions.add_parser("retry", help="retry one message now")
    retry.add_argument("id")
    retry.set_defaults(handler=run_retry)
    delete = actions.add_parser("delete", help="delete one message (or --all) without notice")
    target = delete.add_mutually_exclusive_group(required=True)
    target.add_argument("id", nargs="?")
    target.add_argument("--all", action="store_true", help="empty the whole queue")
    delete.set_defaults(handler=run_delete)


def _store(config: Config) -> QueueStore:
    return QueueStore(config.data_dir / "queue")


def run_list(config: Config, args: argparse.Namespace) -> int:
    entries = admin.entries(_store(config))
    if not entries:
        print("Mail queue is empty")
        return 0
    print(f"{'-Queue ID-':<12} {'--Size--':>8} {'----Arrival Time----':<20}  -Sender/Recipient-")
    for entry in entries:
        for line in admin.describe(entry):
            print(line)
        print()
    total = sum(e.size for e in entries)
    print(
        f"-- {(total + 1023) // 1024} Kbytes in {len(entries)} Request{'s' * (len(entries) > 1)}."
    )
    return 0


def run_show(config: Config, args: argparse.Namespace) -> int:
    store = _store(config)
    entry = _find(store, args.id)
    print(json.dumps(entry.to_json(), indent=2))
    for rcpt in entry.recipients:
        if rcpt.pending:
            when = time.strftime("%Y-%m-%d %H:%M:%S", time.localtime(rcpt.next_attempt))
            print(f"# {rcpt.address}: next attempt {when}")
    try:
        header = split_header(store.read_message(entry.id)).header
    except FileNotFoundError:
        return 0
    print()
    print(header.decode("utf-8", "replace").rstrip())
    return 0


def run_flush(config: Config, args: argparse.Namespace) -> int:
    changed = admin.flush(_store(config))
    print(f"{len(changed.done)} queued message(s) will be retried now", end="")
    print(f"; {len(changed.busy)} being delivered already" if changed.busy else "")
    return 0


def run_retry(config: Config, args: argparse.Namespace) -> int:
    changed = _run(admin.retry, _store(config), args.id)
    if changed.busy:
        raise CliError(f"{args.id} is being delivered right now")
    print(f"{changed.done[0]} will be retried now")
    return 0


def run_delete(config: Config, args: argparse.Namespace) -> int:
    changed = _run(admin.delete, _store(config), None if args.all else args.id)
    for queue_id in changed.done:
        print(f"{queue_id}: removed")
    if changed.busy:
        raise CliError("being delivered right now, not removed: " + " ".join(changed.busy))
    if args.all:
        print(f"{len(changed.done)} message(s) removed")
    return 0


def _find(store: QueueStore, queue_id: str) -> Any:
    try:
        return admin.find(store, queue_id)
    except admin.QueueAdminError as exc:
        raise CliError(str(exc)) from None


def _run(action: Any, store: QueueStore, queue_id: str | None) -> admin.Changed:
    try:
        result: admin.Changed = action(store, queue_id)
    except admin.QueueAdminError as exc:
        raise CliError(str(exc)) from None
    return result
