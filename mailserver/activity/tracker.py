"""Keep the activity record in ``data_dir/activity.json``, fed from the event channel.

The file is small (one entry per account that ever logged in) so that
``mailserver lab status`` can read it while the server runs and a restart
keeps it. Writes are batched (at most one per :data:`SAVE_DELAY` seconds),
run off the event loop, and merge with what is on disk under a file lock:
two server processes on one data_dir each add what they saw.

Every worker keeps one, for the sessions it served itself (``event.origin``):
its subscriptions do not announce, so no worker sends each session's end to
another just for this record (see ``TranscriptArchive``). Logins are
counted as additions (``logins_added``), so the workers' counts add up
instead of the larger one winning.
"""

from __future__ import annotations

import asyncio
import contextlib
import fcntl
import json
import logging
import os
from collections.abc import Callable
from pathlib import Path
from typing import Any

from mailserver.activity.exercises import exercises_done
from mailserver.events import Event, EventBus, Subscription, Topic
from mailserver.events.model import current_pid

log = logging.getLogger(__name__)

#: Seconds a change waits before it is written, so a burst of sessions is one write.
SAVE_DELAY = 1.0

Record = dict[str, dict[str, Any]]


def load_activity(path: Path) -> Record:
    """The activity record on disk; empty if there is none or it cannot be read."""
    try:
        raw = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return {}
    accounts = raw.get("accounts") if isinstance(raw, dict) else None
    return accounts if isinstance(accounts, dict) else {}


def merge(old: dict[str, Any], new: dict[str, Any]) -> dict[str, Any]:
    """One account's entry from two sources: the later login wins, exercises add up."""
    result = dict(old)
    if float(new.get("last_login") or 0) >= float(old.get("last_login") or 0):
        for key in ("last_login", "protocol", "listener", "peer"):
            if key in new:
                result[key] = new[key]
    exercises = dict(old.get("exercises") or {})
    for key, when in (new.get("exercises") or {}).items():
        exercises[key] = min(when, exercises.get(key, when))
    result["exercises"] = exercises
    result["logins"] = max(int(old.get("logins") or 0), int(new.get("logins") or 0))
    return result


class ActivityTracker:
    """Subscribes to logins and session ends; writes what changed, soon and off the loop."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self.accounts: Record = load_activity(path)
        self._dirty: set[str] = set()
        self._subscriptions: list[Subscription] = []
        self._timer: asyncio.TimerHandle | None = None
        self._saving: asyncio.Task[None] | None = None
        #: Logins counted here since the last write, per account.
        self._added: dict[str, int] = {}

    def attach(self, bus: EventBus) -> None:
        for topic, handler in (
            (Topic.SESSION_LOGIN, self._login),
            (Topic.SESSION_CLOSED, self._closed),
        ):
            self._subscriptions.append(bus.subscribe(topic, _own(handler), announce=False))

    async def close(self) -> None:
        """Stop listening and write what is pending."""
        for subscription in self._subscriptions:
            subscription.close()
        self._subscriptions.clear()
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None
        if self._saving is not None:
            with contextlib.suppress(Exception):
                await self._saving
        if self._dirty:
            await asyncio.to_thread(self._write, self._take_dirty())

    def _entry(self, user: str) -> dict[str, Any]:
        return self.accounts.setdefault(user.lower(), {"exercises": {}, "logins": 0})

    def _login(self, event: Event) -> None:
        data = event.data
        if not data.get("user"):
            return
        user = str(data["user"]).lower()
        entry = self._entry(user)
        entry["last_login"] = event.time
        entry["protocol"] = data.get("protocol") or "?"
        entry["listener"] = data.get("listener") or "?"
        entry["peer"] = data.get("peer") or "?"
        entry["logins"] = int(entry.get("logins") or 0) + 1
        self._added[user] = self._added.get(user, 0) + 1
        self._changed(user)

    def _closed(self, event: Event) -> None:
        done = exercises_done(event.data)
        if not done:
            return
        user = str(event.data["user"]).lower()
        exercises = self._entry(user).setdefault("exercises", {})
        new = [key for key in done if key not in exercises]
        for key in new:
            exercises[key] = event.time
        if new:
            self._changed(user)

    def _changed(self, user: str) -> None:
        self._dirty.add(user)
        if self._timer is None:
            try:
                loop = asyncio.get_running_loop()
            except RuntimeError:
                return
            self._timer = loop.call_later(SAVE_DELAY, self._save_soon)

    def _take_dirty(self) -> Record:
        """A copy of the changed entries for the writer thread, the nested dict of
        exercises included: the loop goes on adding to the originals while the
        thread merges, and a dict that grows under ``merge``'s loop raised
        ``RuntimeError`` there and lost the batch."""
        changed = {
            user: {
                **self.accounts[user],
                "exercises": dict(self.accounts[user].get("exercises") or {}),
                "logins_added": self._added.get(user, 0),
            }
            for user in self._dirty
        }
        self._dirty.clear()
        self._added.clear()
        return changed

    def _save_soon(self) -> None:
        self._timer = None
        if self._saving is not None and not self._saving.done():
            self._timer = asyncio.get_running_loop().call_later(SAVE_DELAY, self._save_soon)
            return
        self._saving = asyncio.create_task(asyncio.to_thread(self._write, self._take_dirty()))

    def _write(self, changed: Record) -> None:
        """Merge ``changed`` into the file under a lock; never raises (it is only a record)."""
        if not changed:
            return
        try:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            with open(self.path.with_suffix(".lock"), "a") as lock:
                fcntl.flock(lock, fcntl.LOCK_EX)
                accounts = load_activity(self.path)
                for user, entry in changed.items():
                    entry = dict(entry)
                    added = int(entry.pop("logins_added", 0))
                    old = accounts.get(user, {})
                    accounts[user] = merge(old, entry)
                    # Another worker's logins since this one read the file count too.
                    accounts[user]["logins"] = int(old.get("logins") or 0) + added
                temp = self.path.with_name(self.path.name + ".tmp")
                temp.write_text(json.dumps({"accounts": accounts}, indent=1, sort_keys=True))
                os.replace(temp, self.path)
        except OSError as exc:
            log.warning("cannot write the activity record %s: %s", self.path, exc.strerror)


def _own(handler: Callable[[Event], None]) -> Callable[[Event], None]:
    """``handler`` for this process's own events only (each worker records its sessions)."""

    def own(event: Event) -> None:
        if event.origin == current_pid():
            handler(event)

    return own
