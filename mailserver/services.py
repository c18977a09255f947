"""The shared components every protocol listener receives."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from mailserver.config import Config
from mailserver.events import EventBus, LocalEventBus
from mailserver.net.budget import MemoryBudget
from mailserver.storage import MailStore

if TYPE_CHECKING:
    from mailserver.auth import Authenticator


@dataclass(frozen=True)
class Services:
    """Config, store, authentication and the event channel: all that protocols share."""

    config: Config
    store: MailStore
    auth: Authenticator
    #: Mailbox changes, transcripts, logins: between sessions, workers and the console.
    events: EventBus = field(default_factory=LocalEventBus)
    #: Listener name -> port actually bound (filled in as listeners start; differs
    #: from the config for port 0): what autoconfig tells mail clients.
    ports: dict[str, int] = field(default_factory=dict)
    #: Memory that uploads in progress may hold, all connections together
    #: (``limits.memory_budget``); made from the config when not given.
    uploads: MemoryBudget = field(default=None)  # type: ignore[assignment]

    def __post_init__(self) -> None:
        if self.uploads is None:
            budget = MemoryBudget(self.config.limits.memory_budget)
            object.__setattr__(self, "uploads", budget)
