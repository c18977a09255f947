"""The shared components every protocol listener receives."""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

from mailserver.config import Config
from mailserver.storage import MailStore

if TYPE_CHECKING:
    from mailserver.auth import Authenticator


@dataclass(frozen=True)
class Services:
    """Config, store and authentication: the only things protocols share."""

    config: Config
    store: MailStore
    auth: Authenticator
