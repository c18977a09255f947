"""The web app in process over a real store and user database, with aiohttp's test client.

For route and permission tests; the browser tests start the real server
(``tests/support/server.py``) and drive Chromium instead.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

from aiohttp.test_utils import TestClient, TestServer

from mailserver.auth import Authenticator, UserDatabase
from mailserver.config import Config
from mailserver.config.model import WebSettings
from mailserver.server import build_store
from mailserver.services import Services
from mailserver.web.app import build_app

HOST = "JServer.NetLab"
STUDENTS = ("group1_1", "group1_2")
ADMIN = "teacher"

_CSRF = re.compile(r'name="csrf" value="([^"]+)"')


@dataclass
class WebLab:
    """Services plus a way to open browser-like clients (each with its own cookies)."""

    services: Services
    clients: list[TestClient[Any, Any]]
    listener: str = "http"

    async def client(self) -> TestClient[Any, Any]:
        client: TestClient[Any, Any] = TestClient(
            TestServer(build_app(self.services, self.listener))
        )
        await client.start_server()
        self.clients.append(client)
        return client

    async def close(self) -> None:
        for client in self.clients:
            await client.close()
        self.services.auth.close()


def web_services(tmp_path: Path, **overrides: Any) -> Services:
    """A config, store and user database in ``tmp_path`` with two students and a teacher."""
    config = Config(
        hostname=HOST,
        domains=(HOST,),
        data_dir=tmp_path / "data",
        web=WebSettings(admins=(ADMIN,)),
    )
    config = replace(config, **overrides)
    config.mail_dir.mkdir(parents=True, exist_ok=True)
    users = UserDatabase(config.user_db_path)
    users.add_many(((name, name) for name in (*STUDENTS, ADMIN)), plain_secret=True)
    return Services(
        config=config, store=build_store(config), auth=Authenticator(users, config.domains)
    )


def csrf_of(html: str) -> str:
    """The CSRF token of the first form on a page."""
    match = _CSRF.search(html)
    assert match, "no CSRF field on the page"
    return match.group(1)


async def log_in(client: TestClient[Any, Any], user: str, password: str | None = None) -> str:
    """Log in through the form; returns the logged-in session's CSRF token."""
    page = await client.get("/login")
    token = csrf_of(await page.text())
    response = await client.post(
        "/login",
        data={"csrf": token, "login": user, "password": password or user, "next": "/mail/"},
        allow_redirects=False,
    )
    assert response.status == 303, await response.text()
    landing = await client.get("/mail/")
    assert landing.status == 200
    return csrf_of(await landing.text())
