"""``tls self-signed``: a key and certificate so a lab has TLS in one command."""

from __future__ import annotations

import argparse
from typing import Any

from mailserver.cli.errors import CliError
from mailserver.config import Config
from mailserver.net.tls import certificate_paths, write_self_signed


def register(commands: Any) -> None:
    tls = commands.add_parser("tls", help="TLS certificate helpers")
    actions = tls.add_subparsers(dest="action", metavar="ACTION", required=True)
    self_signed = actions.add_parser(
        "self-signed",
        help="write a self-signed key and certificate for the hostname (and extra names)",
    )
    self_signed.add_argument(
        "names",
        nargs="*",
        metavar="NAME",
        help="extra host names or IP addresses the certificate should cover (e.g. 172.16.0.253)",
    )
    self_signed.add_argument("--days", type=int, default=3650, help="validity (3650 days)")
    self_signed.add_argument(
        "--force", action="store_true", help="replace an existing key and certificate"
    )
    self_signed.set_defaults(handler=run_self_signed)


def run_self_signed(config: Config, args: argparse.Namespace) -> int:
    paths = certificate_paths(config)
    if not args.force and (paths.certificate.exists() or paths.key.exists()):
        raise CliError(f"{paths.certificate} already exists; use --force to replace it")
    write_self_signed(paths, config.hostname, args.names, days=args.days)
    print(f"certificate: {paths.certificate}")
    print(f"key:         {paths.key}")
    print("restart the server to use them")
    return 0
