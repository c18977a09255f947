"""The session registry's hand-over of a slot taken before a TLS handshake."""

from __future__ import annotations

from mailserver.net.sessions import SessionRegistry


def test_slot_taken_before_the_session_is_handed_over() -> None:
    registry = SessionRegistry(max_total=10, max_per_ip=1)
    calls: list[str] = []
    handle = registry.open("192.0.2.1", lambda: calls.append("handshake"), lambda: None)
    assert handle is not None
    assert registry.open("192.0.2.1", lambda: None, lambda: None) is None
    handle.set_shutdown_callback(lambda: calls.append("session"))
    handle.request_shutdown()
    assert calls == ["session"]
    handle.release()
    assert len(registry) == 0


def test_shutdown_requested_before_the_hand_over_reaches_the_session() -> None:
    registry = SessionRegistry(max_total=10, max_per_ip=5)
    calls: list[str] = []
    handle = registry.open("192.0.2.1", lambda: calls.append("handshake"), lambda: None)
    assert handle is not None
    handle.request_shutdown()
    handle.set_shutdown_callback(lambda: calls.append("session"))
    assert calls == ["handshake", "session"]
    handle.request_shutdown()
    assert calls == ["handshake", "session"]
