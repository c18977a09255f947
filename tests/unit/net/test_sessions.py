"""The session registry's hand-over of a slot taken before a TLS handshake."""

from __future__ import annotations

from mailserver.net.sessions import SessionHandle, SessionRegistry


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


def test_connections_not_logged_in_take_at_most_their_share() -> None:
    registry = SessionRegistry(max_total=10, max_per_ip=10, unauthenticated_share=0.3)

    def connect() -> SessionHandle | None:
        return registry.open("192.0.2.1", lambda: None, lambda: None)

    strangers = [connect() for _ in range(3)]
    assert all(strangers)
    assert connect() is None  # three of ten slots is the strangers' share
    first = strangers[0]
    assert first is not None
    first.logged_in()  # a user: no longer counted against the share
    first.logged_in()  # (twice changes nothing)
    user = connect()
    assert user is not None
    assert connect() is None
    first.release()  # a logged-in session leaving frees no stranger slot
    assert connect() is None
    user.release()  # a stranger leaving does
    assert connect() is not None
