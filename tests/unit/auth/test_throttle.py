"""Password guessing gets slower and then blocked; mistyping students barely notice."""

from __future__ import annotations

from dataclasses import replace
from ipaddress import ip_network
from pathlib import Path

import pytest

from mailserver.auth import Authenticator, LoginBlocked, UserDatabase
from mailserver.auth.throttle import LoginThrottle, ThrottlePolicy
from mailserver.config import AuthSettings


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


POLICY = ThrottlePolicy(
    free_failures=3, base_delay=0.5, max_delay=4.0, block_after=6, block_seconds=60, window=300
)


def test_first_mistakes_are_free_then_delays_double_up_to_the_ceiling() -> None:
    throttle = LoginThrottle(POLICY, clock=Clock())
    delays = [throttle.record_failure("10.0.0.1", f"user{i}") for i in range(5)]
    assert delays == [0.0, 0.0, 0.0, 0.5, 1.0]
    user_only = LoginThrottle(POLICY, clock=Clock())
    assert [user_only.record_failure(None, "group1_1") for _ in range(7)][-1] == 4.0


def test_an_address_is_blocked_after_repeated_failures_and_released_later() -> None:
    clock = Clock()
    throttle = LoginThrottle(POLICY, clock=clock)
    for _ in range(6):
        throttle.record_failure("10.0.0.9", None)
    assert throttle.is_blocked("10.0.0.9")
    assert not throttle.is_blocked("10.0.0.10")
    clock.now += 61
    assert not throttle.is_blocked("10.0.0.9")
    assert throttle.record_failure("10.0.0.9", None) == 0.0


def test_accounts_are_slowed_but_never_blocked() -> None:
    throttle = LoginThrottle(POLICY, clock=Clock())
    for number in range(20):
        throttle.record_failure(f"10.0.1.{number}", "group1_1")
    assert not throttle.is_blocked(None)
    assert not any(throttle.is_blocked(f"10.0.1.{n}") for n in range(20))


def test_success_clears_the_count_and_old_failures_expire() -> None:
    clock = Clock()
    throttle = LoginThrottle(POLICY, clock=clock)
    for _ in range(4):
        throttle.record_failure("10.0.0.2", "bob")
    throttle.record_success("10.0.0.2", "bob")
    assert throttle.record_failure("10.0.0.2", "bob") == 0.0
    for _ in range(4):
        throttle.record_failure("10.0.0.3", None)
    clock.now += 301
    assert throttle.record_failure("10.0.0.3", None) == 0.0


async def test_blocked_address_fails_even_with_the_right_password(tmp_path: Path) -> None:
    users = UserDatabase(tmp_path / "users.yaml")
    users.add("group1_1", "group1_1")
    policy = ThrottlePolicy(free_failures=10, block_after=2, block_seconds=60)
    auth = Authenticator(users, ["JServer.NetLab"], throttle=LoginThrottle(policy))
    assert await auth.authenticate("group1_1", "group1_1", client="10.1.1.1") == "group1_1"
    assert await auth.authenticate("group1_1", "wrong", client="10.1.1.1") is None
    assert await auth.authenticate("group1_1", "wrong", client="10.1.1.1") is None
    with pytest.raises(LoginBlocked) as blocked:
        await auth.authenticate("group1_1", "group1_1", client="10.1.1.1")
    assert 59 <= blocked.value.seconds <= 60
    with pytest.raises(LoginBlocked):
        await auth.apop("group1_1", "<1@x>", "0" * 32, client="10.1.1.1")
    with pytest.raises(LoginBlocked):
        await auth.cram_md5("group1_1", b"<1@x>", "0" * 32, client="10.1.1.1")
    assert await auth.authenticate("group1_1", "group1_1", client="10.1.1.2") == "group1_1"
    auth.close()


def test_seconds_left_count_down_and_round_up() -> None:
    clock = Clock()
    throttle = LoginThrottle(POLICY, clock=clock)
    assert throttle.blocked_for("10.0.0.9") == 0
    for _ in range(6):
        throttle.record_failure("10.0.0.9", None)
    assert throttle.blocked_for("10.0.0.9") == 60
    clock.now += 10.5
    assert throttle.blocked_for("10.0.0.9") == 50
    clock.now += 50
    assert throttle.blocked_for("10.0.0.9") == 0


def test_exempt_networks_are_slowed_but_never_blocked() -> None:
    policy = replace(POLICY, exempt_networks=(ip_network("10.20.0.0/16"), ip_network("fd00::/8")))
    throttle = LoginThrottle(policy, clock=Clock())
    delays = [throttle.record_failure("10.20.3.4", None) for _ in range(20)]
    assert delays[-1] == 4.0  # still slowed, up to the ceiling
    assert not throttle.is_blocked("10.20.3.4")
    for _ in range(20):  # the same address as a dual-stack listener reports it
        throttle.record_failure("::ffff:10.20.3.5", None)
    assert not throttle.is_blocked("::ffff:10.20.3.5")
    for _ in range(20):
        throttle.record_failure("fd00::7", None)
    assert not throttle.is_blocked("fd00::7")
    for _ in range(6):
        throttle.record_failure("10.21.0.1", None)
    assert throttle.is_blocked("10.21.0.1")


def test_policy_from_the_config_settings() -> None:
    settings = AuthSettings(
        free_failures=1, block_after_failures=4, block_seconds=30, exempt_networks=("10.0.0.0/8",)
    )
    policy = ThrottlePolicy.from_settings(settings)
    assert (policy.free_failures, policy.block_after, policy.block_seconds) == (1, 4, 30)
    assert policy.exempt_networks == (ip_network("10.0.0.0/8"),)


def test_memory_stays_bounded_with_many_blocked_addresses() -> None:
    class SmallThrottle(LoginThrottle):
        MAX_TRACKED = 50

    clock = Clock()
    policy = ThrottlePolicy(free_failures=0, block_after=1, block_seconds=600, window=900)
    throttle = SmallThrottle(policy, clock=clock)
    for i in range(1000):
        throttle.record_failure(f"2001:db8::{i:x}", f"guess{i}")
        clock.now += 0.01
    assert throttle.tracked() <= 2 * SmallThrottle.MAX_TRACKED
    # The newest blocks are the ones kept.
    assert throttle.is_blocked("2001:db8::3e7")
    clock.now += 601
    throttle.record_failure("192.0.2.1", None)
    assert throttle.is_blocked("192.0.2.1")
    assert not throttle.is_blocked("2001:db8::3e7")
