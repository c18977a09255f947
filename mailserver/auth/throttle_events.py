"""The login throttle across worker processes: failures heard on the event channel count too.

A guesser spread over N workers (the kernel hands its connections to any
of them) must not get N times the free failures. Each throttle publishes
what it records on ``Topic.AUTH`` and records what other processes
publish, so every worker's throttle reaches the same counts; the
throttle's own state stays the small per-process object it was.
"""

from __future__ import annotations

import os

from mailserver.auth.throttle import LoginThrottle
from mailserver.events import Event, EventBus, Topic


def share_throttle(throttle: LoginThrottle, events: EventBus) -> None:
    """Publish ``throttle``'s failures and successes; apply those of other processes."""
    me = os.getpid()

    def publish(action: str, client: str | None, user: str | None) -> None:
        events.emit(Topic.AUTH, action=action, ip=client, user=user)

    def heard(event: Event) -> None:
        if event.origin == me:
            return
        data = event.data
        client, user = data.get("ip"), data.get("user")
        client = client if isinstance(client, str) else None
        user = user if isinstance(user, str) else None
        if data.get("action") == "failure":
            throttle.record_failure(client, user, remote=True)
        elif data.get("action") == "success":
            throttle.record_success(client, user, remote=True)

    throttle.observer = publish
    events.subscribe(Topic.AUTH, heard)
