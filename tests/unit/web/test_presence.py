"""Web logins on the event channel: opened + login, then closed with counts."""

from __future__ import annotations

from mailserver.events import Event, Topic
from tests.support.web import WebLab, log_in


async def test_login_and_logout_are_announced(web_lab: WebLab) -> None:
    seen: list[Event] = []
    bus = web_lab.services.events
    for topic in (Topic.SESSION_OPENED, Topic.SESSION_LOGIN, Topic.SESSION_CLOSED):
        bus.subscribe(topic, seen.append)
    client = await web_lab.client()
    token = await log_in(client, "group1_1")
    opened, login = seen
    assert opened.topic == Topic.SESSION_OPENED and login.topic == Topic.SESSION_LOGIN
    assert login.data["user"] == "group1_1" and login.data["protocol"] == "http"
    assert login.data["listener"] == "http" and login.data["tls"] is False
    assert login.data["peer"].startswith("127.0.0.1:")
    cookie = client.session.cookie_jar.filter_cookies(client.make_url("/"))
    assert login.data["session"] not in str(cookie), "the event must not reveal the cookie"
    await client.get("/mail/")
    await client.post("/logout", data={"csrf": token})
    closed = seen[-1]
    assert closed.topic == Topic.SESSION_CLOSED
    assert closed.data["session"] == login.data["session"]
    assert closed.data["user"] == "group1_1" and closed.data["reason"] == "logout"
    assert closed.data["counts"]["requests"] >= 2 and closed.data["counts"]["messages"] == 0
