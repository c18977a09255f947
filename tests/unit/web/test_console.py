"""The instructor console's routes: who may use them, the actions, the live stream.

aiohttp's test client against a real store and user database; the live view
in a real browser over a real SMTP session is in tests/integration/console.
"""

from __future__ import annotations

import asyncio
import json
import logging
from typing import Any

import pytest
from aiohttp.test_utils import TestClient

from mailserver.auth import UserDatabase
from mailserver.transcripts import SessionRecorder
from mailserver.web.console import ROUTES
from tests.support.web import ADMIN, WebLab, csrf_of, log_in

log = logging.getLogger("test.console")


def password_is(lab: WebLab, name: str, password: str) -> bool:
    """Whether the user database on disk holds ``password`` for ``name``."""
    users = UserDatabase(lab.services.config.user_db_path)
    stored = users.password_hash(name)
    return stored is not None and users.verify_hash(password, stored)


def concrete(path: str) -> str:
    return path.replace("{id}", "no-such-session").replace("{name}", "group1_2")


def recorder(lab: WebLab, port: int = 40001) -> SessionRecorder:
    services = lab.services
    return SessionRecorder(
        services.events,
        services.config.transcripts,
        "smtp",
        "192.0.2.9",
        port,
        tls=False,
        log=log,
        where="test",
    )


async def test_every_route_refuses_a_stranger(web_lab: WebLab) -> None:
    client = await web_lab.client()
    for method, path, _ in ROUTES:
        response = await client.request(method, concrete(path), allow_redirects=False)
        if method == "GET":
            assert response.status == 303, path
            assert response.headers["Location"].startswith("/login?next="), path
        else:
            assert response.status in (401, 403), path


async def test_every_route_refuses_a_student(web_lab: WebLab) -> None:
    client = await web_lab.client()
    token = await log_in(client, "group1_1")
    for method, path, _ in ROUTES:
        response = await client.request(
            method, concrete(path), data={"csrf": token}, allow_redirects=False
        )
        assert response.status == 403, path
    page = await client.get("/mail/")
    assert "/console/" not in await page.text(), "no console link for students"
    assert password_is(web_lab, "group1_2", "group1_2")


async def admin_client(lab: WebLab) -> tuple[TestClient[Any, Any], str]:
    client = await lab.client()
    token = await log_in(client, ADMIN)
    return client, token


async def test_forged_post_without_csrf_is_refused(web_lab: WebLab) -> None:
    client, _ = await admin_client(web_lab)
    users = UserDatabase(web_lab.services.config.user_db_path)
    users.set_password("group1_2", "changed-by-student")
    response = await client.post("/console/accounts/group1_2/reset", allow_redirects=False)
    assert response.status == 403
    forged = await client.post(
        "/console/accounts/group1_2/reset", data={"csrf": "forged"}, allow_redirects=False
    )
    assert forged.status == 403
    assert password_is(web_lab, "group1_2", "changed-by-student")


async def test_reset_password_to_the_lab_default(web_lab: WebLab) -> None:
    client, token = await admin_client(web_lab)
    UserDatabase(web_lab.services.config.user_db_path).set_password("group1_2", "forgotten")
    page = await client.get("/console/class")
    html = await page.text()
    assert page.status == 200
    assert 'data-account="group1_2"' in html and "smtp-auth-send" in html
    response = await client.post(
        "/console/accounts/group1_2/reset", data={"csrf": csrf_of(html)}, allow_redirects=False
    )
    assert response.status == 303
    assert password_is(web_lab, "group1_2", "group1_2")
    after = await client.get("/console/class")
    assert "The password of group1_2 is now group1_2 again." in await after.text()
    # The instructor's own account is not reset from here.
    await client.post(f"/console/accounts/{ADMIN}/reset", data={"csrf": token})
    assert password_is(web_lab, ADMIN, ADMIN)
    UserDatabase(web_lab.services.config.user_db_path).set_password(ADMIN, "secret")
    await client.post(f"/console/accounts/{ADMIN}/reset", data={"csrf": token})
    assert password_is(web_lab, ADMIN, "secret")


async def test_unblock_an_address(web_lab: WebLab) -> None:
    throttle = web_lab.services.auth.throttle
    for _ in range(throttle.policy.block_after):
        throttle.record_failure("192.0.2.50", None)
    assert throttle.is_blocked("192.0.2.50")
    client, token = await admin_client(web_lab)
    page = await client.get("/console/")
    assert "192.0.2.50" in await page.text()
    response = await client.post(
        "/console/unblock", data={"csrf": token, "address": "192.0.2.50"}, allow_redirects=False
    )
    assert response.status == 303
    assert not throttle.is_blocked("192.0.2.50")
    bad = await client.post("/console/unblock", data={"csrf": token, "address": "<script>"})
    assert "Not an IP address" in await bad.text() and "<script>" not in await bad.text()


async def test_sessions_listed_viewed_and_downloaded(web_lab: WebLab) -> None:
    client, _ = await admin_client(web_lab)
    await client.get("/console/")  # the archive starts listening
    rec = recorder(web_lab)
    rec.server(b"220 ready\r\n")
    rec.client(b"EHLO <b>pc1</b>\r\n")
    live = await client.get("/console/")
    assert "192.0.2.9:40001" in await live.text()
    rec.login("group1_1", "LOGIN")
    rec.close()
    listed = await client.get("/console/?user=group1_1&protocol=smtp")
    html = await listed.text()
    assert f"/console/sessions/{rec.id}" in html
    other = await client.get("/console/?user=group1_2")
    assert f"/console/sessions/{rec.id}" not in await other.text()
    page = await client.get(f"/console/sessions/{rec.id}")
    text = await page.text()
    assert "C: EHLO &lt;b&gt;pc1&lt;/b&gt;" in text, "transcript text is escaped"
    download = await client.get(f"/console/sessions/{rec.id}.txt")
    assert download.headers["Content-Disposition"].startswith("attachment;")
    body = await download.text()
    assert "S: 220 ready" in body and "C: EHLO <b>pc1</b>" in body
    missing = await client.get("/console/sessions/nope")
    assert missing.status == 404


async def read_event(content: Any, kind: str, timeout: float = 10.0) -> dict[str, Any]:
    """The data of the next SSE event of ``kind``."""
    async with asyncio.timeout(timeout):
        current = None
        while True:
            line = (await content.readline()).decode().rstrip("\n")
            if line.startswith("event: "):
                current = line[7:]
            elif line.startswith("data: ") and current == kind:
                data: dict[str, Any] = json.loads(line[6:])
                return data


async def test_live_stream_catches_up_then_follows(web_lab: WebLab) -> None:
    client, _ = await admin_client(web_lab)
    await client.get("/console/")
    before = recorder(web_lab, 40002)
    before.client(b"HELO early\r\n")
    response = await client.get("/console/stream")
    assert response.headers["Content-Type"] == "text/event-stream"
    opened = await read_event(response.content, "opened")
    assert opened["peer"] == "192.0.2.9:40002"
    line = await read_event(response.content, "line")
    assert line["text"] == "HELO early"
    before.client(b"AUTH PLAIN AGdyb3VwMV8xAGdyb3VwMV8x\r\n")
    masked = await read_event(response.content, "line")
    assert masked["text"] == "AUTH PLAIN ********"
    before.close()
    closed = await read_event(response.content, "closed")
    assert closed["session"] == before.id
    response.close()


@pytest.mark.parametrize("path", ["/console/", "/console/class"])
async def test_console_pages_have_a_strict_csp(web_lab: WebLab, path: str) -> None:
    client, _ = await admin_client(web_lab)
    response = await client.get(path)
    assert response.status == 200
    assert "script-src 'self'" in response.headers["Content-Security-Policy"]
    assert "<script>" not in await response.text(), "no inline script"


async def test_every_console_route_is_in_the_permission_table(web_lab: WebLab) -> None:
    client = await web_lab.client()
    app = client.server.app
    assert app is not None
    registered = {
        (route.method, route.resource.canonical)
        for route in app.router.routes()
        if route.resource is not None and route.resource.canonical.startswith("/console")
    }
    assert registered == {(method, path) for method, path, _ in ROUTES}
