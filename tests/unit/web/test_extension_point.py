"""The extension point other web modules use: require_user/require_admin and add_nav.

A throwaway admin-only page (``/test-admin/``) is added the way the console adds its own.
"""

from __future__ import annotations

from typing import Any

import pytest
from aiohttp import web
from aiohttp.test_utils import TestClient, TestServer

from mailserver.web.app import add_nav, build_app
from mailserver.web.security import require_admin, require_user
from mailserver.web.templates import render
from tests.support.web import ADMIN, WebLab, csrf_of, log_in


async def admin_page(request: web.Request) -> web.StreamResponse:
    user = require_admin(request)
    return render(
        request,
        "login.html",
        error=f"console for {user.name}",
        login="",
        next="/",
        plaintext_refused=False,
        https_url=None,
        secure=False,
        listener="http",
    )


async def admin_post(request: web.Request) -> web.StreamResponse:
    require_admin(request)
    return web.Response(text="done")


async def student_page(request: web.Request) -> web.StreamResponse:
    return web.Response(text=f"hello {require_user(request).name}")


@pytest.fixture
async def app_client(web_lab: WebLab) -> Any:
    clients: list[TestClient[Any, Any]] = []

    async def make() -> TestClient[Any, Any]:
        app = build_app(web_lab.services)
        add_nav(app, "Admin test", "/test-admin/", admin_only=True)
        app.router.add_get("/test-admin/", admin_page)
        app.router.add_post("/test-admin/action", admin_post)
        app.router.add_get("/whoami", student_page)
        client: TestClient[Any, Any] = TestClient(TestServer(app))
        await client.start_server()
        clients.append(client)
        return client

    yield make
    for client in clients:
        await client.close()


@pytest.mark.parametrize(
    ("who", "console", "post", "whoami"),
    [
        (None, 303, 403, 303),  # stranger: sent to login; a POST has no token anyway
        ("group1_1", 403, 403, 200),  # student
        (ADMIN, 200, 200, 200),  # instructor
    ],
)
async def test_route_matrix(
    app_client: Any, who: str | None, console: int, post: int, whoami: int
) -> None:
    client = await app_client()
    token = ""
    if who is not None:
        token = await log_in(client, who)
    assert (await client.get("/test-admin/", allow_redirects=False)).status == console
    assert (await client.post("/test-admin/action", data={"csrf": token})).status == post
    assert (await client.get("/whoami", allow_redirects=False)).status == whoami


async def test_console_link_only_for_admins(app_client: Any) -> None:
    student = await app_client()
    await log_in(student, "group1_1")
    assert 'href="/test-admin/"' not in await (await student.get("/mail/")).text()
    teacher = await app_client()
    await log_in(teacher, ADMIN)
    page = await (await teacher.get("/mail/")).text()
    assert 'href="/test-admin/"' in page
    console = await (await teacher.get("/test-admin/")).text()
    assert "console for teacher" in console and csrf_of(console)


async def test_json_callers_send_the_token_in_a_header(app_client: Any) -> None:
    client = await app_client()
    token = await log_in(client, ADMIN)
    refused = await client.post("/test-admin/action", json={"x": 1})
    assert refused.status == 403
    allowed = await client.post(
        "/test-admin/action", json={"x": 1}, headers={"X-CSRF-Token": token}
    )
    assert allowed.status == 200
