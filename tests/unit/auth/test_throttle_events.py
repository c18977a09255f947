"""Login failures recorded in one process count in the others (over the event channel)."""

from __future__ import annotations

import os

from mailserver.auth.throttle import LoginThrottle, ThrottlePolicy
from mailserver.auth.throttle_events import share_throttle
from mailserver.events import Event, LocalEventBus, Topic

POLICY = ThrottlePolicy(free_failures=10, block_after=4, block_seconds=300)


def test_failures_published_elsewhere_count_here_and_are_not_republished() -> None:
    bus = LocalEventBus()
    throttle = LoginThrottle(POLICY)
    share_throttle(throttle, bus)
    published: list[Event] = []
    bus.subscribe(Topic.AUTH, published.append)
    other_process = os.getpid() + 1
    for _ in range(4):
        bus.publish(
            Event(
                Topic.AUTH,
                {"ip": "10.0.0.7", "user": "group1_1", "action": "failure"},
                origin=other_process,
            )
        )
    assert throttle.is_blocked("10.0.0.7")
    assert len(published) == 4  # only the four heard, nothing echoed


def test_local_failures_and_successes_are_published_once() -> None:
    bus = LocalEventBus()
    throttle = LoginThrottle(POLICY)
    share_throttle(throttle, bus)
    published: list[Event] = []
    bus.subscribe(Topic.AUTH, published.append)
    throttle.record_failure("10.0.0.8", "group1_2")
    throttle.record_success("10.0.0.8", "group1_2")
    assert [e.data["action"] for e in published] == ["failure", "success"]
    assert published[0].data == {"action": "failure", "ip": "10.0.0.8", "user": "group1_2"}


def test_own_events_heard_back_are_not_counted_twice() -> None:
    bus = LocalEventBus()
    throttle = LoginThrottle(POLICY)
    share_throttle(throttle, bus)
    for _ in range(3):
        throttle.record_failure("10.0.0.9", None)
    assert not throttle.is_blocked("10.0.0.9")  # 3 of 4, not 6
    throttle.record_failure("10.0.0.9", None)
    assert throttle.is_blocked("10.0.0.9")
