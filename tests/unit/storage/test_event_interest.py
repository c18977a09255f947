"""The store listens to other processes' folder changes only while a session here
listens to a folder, so a delivery nobody watches is announced to nobody."""

from __future__ import annotations

from pathlib import Path

from mailserver.events import Event, LocalEventBus, Topic
from mailserver.storage import INBOX
from mailserver.storage.maildir.store import MaildirStore


async def test_mailbox_topic_is_wanted_only_while_a_folder_has_listeners(tmp_path: Path) -> None:
    events = LocalEventBus()
    heard: list[Event] = []
    store = MaildirStore(tmp_path / "mail", events=events)
    assert not events.wants(Topic.MAILBOX)
    inbox = await (await store.mailbox("alice")).folder(INBOX)
    await inbox.append(b"Subject: nobody listens\r\n\r\nbody\r\n")
    assert not events.wants(Topic.MAILBOX)  # nothing was published for it

    woken: list[str] = []
    first = lambda: woken.append("inbox")  # noqa: E731
    inbox.add_listener(first)
    second = lambda: woken.append("again")  # noqa: E731
    inbox.add_listener(second)
    assert events.wants(Topic.MAILBOX)
    subscription = events.subscribe(Topic.MAILBOX, heard.append)
    await inbox.append(b"Subject: now somebody does\r\n\r\nbody\r\n")
    assert [e.data["change"] for e in heard] == ["messages"]

    # Another process's change wakes the listeners here.
    woken.clear()
    events.publish(
        Event(Topic.MAILBOX, {"user": "alice", "folder": INBOX, "change": "messages"}, origin=-1)
    )
    assert woken == ["inbox", "again"]

    subscription.close()
    inbox.remove_listener(second)
    assert events.wants(Topic.MAILBOX)  # one listener is left
    inbox.remove_listener(first)
    assert not events.wants(Topic.MAILBOX)
    await inbox.append(b"Subject: nobody again\r\n\r\nbody\r\n")
    assert woken == ["inbox", "again"]  # nobody listens any more
