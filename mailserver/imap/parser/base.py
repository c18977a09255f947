"""The root of every parsed command, apart so that extension grammar modules can
subclass it without importing the whole command table."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Command:
    tag: str
    name: str


@dataclass(frozen=True)
class NoArguments(Command):
    """CAPABILITY, NOOP, LOGOUT, STARTTLS, CHECK, CLOSE, EXPUNGE, IDLE, UNSELECT, NAMESPACE."""
