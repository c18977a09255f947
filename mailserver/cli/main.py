"""Argument parsing only: build a Config, then call one function per command."""

from __future__ import annotations

import argparse
import os
import signal
import sys
from collections.abc import Callable, Sequence
from pathlib import Path

from mailserver import __version__
from mailserver.cli import lab, queue, serve, throttle, tls, users
from mailserver.cli.errors import CliError
from mailserver.config import Config, ConfigError, load_config
from mailserver.startup import log_to_stderr

DEFAULT_CONFIG = "mailserver.yaml"

Handler = Callable[[Config, argparse.Namespace], int]


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="mailserver",
        description="One-process SMTP/POP3/IMAP mail server with a maildir store.",
    )
    parser.add_argument("--version", action="version", version=f"mailserver {__version__}")
    parser.add_argument(
        "-c",
        "--config",
        default=DEFAULT_CONFIG,
        help=f"YAML config file (default: ./{DEFAULT_CONFIG})",
    )
    commands = parser.add_subparsers(dest="command", metavar="COMMAND", required=True)
    serve.register(commands)
    users.register(commands)
    lab.register(commands)
    tls.register(commands)
    throttle.register(commands)
    queue.register(commands)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    handler: Handler = args.handler
    try:
        config = load_config(Path(args.config))
    except ConfigError as exc:
        print(f"mailserver: config error: {exc}", file=sys.stderr)
        return 2
    log_to_stderr(config.log_level)
    try:
        return handler(config, args)
    except CliError as exc:
        print(f"mailserver: {exc}", file=sys.stderr)
        return exc.exit_code
    except KeyboardInterrupt:
        return 130
    except BrokenPipeError:
        return _reader_went_away()


def _reader_went_away() -> int:
    """``mailserver user list | head``: the reader left; stop quietly, as ``ls`` does.

    Standard output is pointed at /dev/null so that Python's flush at exit
    does not fail again; the exit status is the shell's for SIGPIPE.
    """
    devnull = os.open(os.devnull, os.O_WRONLY)
    os.dup2(devnull, sys.stdout.fileno())
    os.close(devnull)
    return 128 + signal.SIGPIPE
