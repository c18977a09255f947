"""Links in the top bar of every page; modules add theirs at setup."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class NavLink:
    label: str
    path: str
    #: Shown only to accounts in ``web.admins`` (the route itself must still check).
    admin_only: bool = False
