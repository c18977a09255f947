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


def test_a_new_process_asking_for_the_state_gets_the_blocks_and_counts() -> None:
    """What a worker started by SIGHUP hears: the blocks with the time left, and the
    failures, merged idempotently however many processes answer."""
    clock = [1000.0]
    running = LoginThrottle(POLICY, clock=lambda: clock[0])
    for _ in range(4):
        running.record_failure("10.0.0.9", "group1_3")
    running.record_failure("10.0.0.10", None)
    clock[0] += 100
    bus = LocalEventBus()
    share_throttle(running, bus)
    answers: list[Event] = []
    bus.subscribe(Topic.AUTH, answers.append)
    bus.publish(Event(Topic.AUTH, {"action": "sync", "ip": None, "user": None}, origin=1))
    state = [event for event in answers if event.data.get("action") == "state"]
    assert len(state) == 1

    newcomer = LoginThrottle(POLICY, clock=lambda: 5000.0)
    newcomer.merge(state[0].data)
    newcomer.merge(state[0].data)
    assert newcomer.blocked_for("10.0.0.9") == 200
    assert dict(newcomer.failing()) == {"ip:10.0.0.9": 4, "user:group1_3": 4, "ip:10.0.0.10": 1}
    newcomer.merge({"blocked": [["10.0.0.11", 1e9], ["bad"], 7], "failures": [["x", [1]], 3]})
    assert newcomer.blocked_for("10.0.0.11") == 300  # never longer than our own policy
    assert "x" not in dict(newcomer.failing())
