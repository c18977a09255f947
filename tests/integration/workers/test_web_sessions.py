"""``workers: 2`` and the webmail: one login holds in every worker.

A browser opens new TCP connections whenever it likes, and the kernel gives
each to whichever worker accepts first. Here every request goes on a new
connection steered to a chosen worker (tests/support/workers.py), with a
cookie jar of our own: the login, its CSRF token, a flash message, logout,
expiry and ``web.max_sessions`` must all behave as in one process.
"""

from __future__ import annotations

import http.client
import os
import re
import signal
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from http.cookies import SimpleCookie
from pathlib import Path
from urllib.parse import urlencode

import pytest

from tests.support.server import ServerProcess, create_users, write_config
from tests.support.workers import connect_to

TIMEOUT = 20.0
USERS = ("group1_1", "group1_2", "group1_3")
COOKIE = "mailserver_session"
_CSRF = re.compile(r'name="csrf" value="([^"]+)"')

ServerFactory = Callable[..., ServerProcess]


@dataclass
class Reply:
    status: int
    location: str
    body: str


@dataclass
class Browser:
    """A cookie jar and one new connection per request, to the worker the test names."""

    server: ServerProcess
    cookies: dict[str, str] = field(default_factory=dict)

    def request(
        self, pid: int, method: str, path: str, form: dict[str, str] | None = None
    ) -> Reply:
        port = self.server.ports["http"]

        def open_connection() -> http.client.HTTPConnection:
            connection = http.client.HTTPConnection(self.server.host, port, timeout=TIMEOUT)
            connection.connect()
            return connection

        connection = connect_to(
            open_connection,
            lambda c: c.sock,
            lambda c: c.close(),
            self.server.worker_pids(),
            pid,
        )
        headers = {"Connection": "close"}
        if self.cookies:
            headers["Cookie"] = "; ".join(f"{k}={v}" for k, v in self.cookies.items())
        body = None
        if form is not None:
            body = urlencode(form)
            headers["Content-Type"] = "application/x-www-form-urlencoded"
        try:
            connection.request(method, path, body=body, headers=headers)
            response = connection.getresponse()
            text = response.read().decode("utf-8", "replace")
            for value in response.headers.get_all("Set-Cookie") or []:
                jar: SimpleCookie = SimpleCookie(value)
                for name, morsel in jar.items():
                    if not morsel.value or "1970" in morsel["expires"]:
                        self.cookies.pop(name, None)
                    else:
                        self.cookies[name] = morsel.value
            return Reply(response.status, response.headers.get("Location", ""), text)
        finally:
            connection.close()

    def log_in(self, form_pid: int, post_pid: int, user: str) -> None:
        """The login form from one worker, the POST to another."""
        page = self.request(form_pid, "GET", "/login")
        assert page.status == 200
        reply = self.request(
            post_pid,
            "POST",
            "/login",
            {"csrf": csrf_of(page.body), "login": user, "password": user, "next": "/mail/"},
        )
        assert reply.status == 303, reply.body
        assert reply.location == "/mail/"

    def logged_in(self, pid: int) -> bool:
        reply = self.request(pid, "GET", "/mail/")
        if reply.status == 303:
            assert reply.location.startswith("/login")
            return False
        assert reply.status == 200, reply.body
        return True


def csrf_of(html: str) -> str:
    match = _CSRF.search(html)
    assert match, "no CSRF field on the page"
    return match.group(1)


def web_server(factory: ServerFactory, **settings: object) -> ServerProcess:
    """A server with two workers and an ``http`` listener, plus ``settings``."""
    server = factory(
        workers=2,
        listeners={name: "127.0.0.1:0" for name in ("smtp", "imap", "http")},
        **settings,
    )
    assert len(server.worker_pids()) == 2
    return server


@pytest.fixture(scope="module")
def two_workers(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ServerProcess]:
    """One server for the tests that leave it serving with default settings (it starts slowly)."""
    directory = tmp_path_factory.mktemp("websessions")
    config = write_config(
        directory, workers=2, listeners={name: "127.0.0.1:0" for name in ("smtp", "http")}
    )
    create_users(config)
    server = ServerProcess(config).start()
    assert len(server.worker_pids()) == 2
    yield server
    server.kill()


def test_a_login_holds_in_every_worker_until_logout(two_workers: ServerProcess) -> None:
    first, second = two_workers.worker_pids()
    browser = Browser(two_workers)
    browser.log_in(first, second, USERS[0])
    for _ in range(6):
        for pid in (first, second):
            assert browser.logged_in(pid), f"logged out in worker {pid}"
    # The CSRF token of a page from one worker is good in the other, and the
    # flash message of the POST shows on the next page, wherever it is served.
    page = browser.request(first, "GET", "/mail/")
    reply = browser.request(second, "POST", "/mail/empty-trash", {"csrf": csrf_of(page.body)})
    assert reply.status == 303, reply.body
    shown = browser.request(first, "GET", reply.location)
    assert "emptied (0 deleted)" in shown.body
    assert "emptied" not in browser.request(second, "GET", reply.location).body  # shown once
    # A wrong token is still refused in both.
    for pid in (first, second):
        refused = browser.request(pid, "POST", "/mail/empty-trash", {"csrf": "forged"})
        assert refused.status == 403
    # Logout in one worker ends the login in both (with the old cookie, too).
    cookie = dict(browser.cookies)
    page = browser.request(second, "GET", "/mail/")
    assert browser.request(first, "POST", "/logout", {"csrf": csrf_of(page.body)}).status == 303
    stale = Browser(two_workers, cookie)
    assert not stale.logged_in(second)
    assert not stale.logged_in(first)


def test_a_login_survives_a_worker_and_a_server_restart(two_workers: ServerProcess) -> None:
    first = two_workers.worker_pids()[0]
    browser = Browser(two_workers)
    browser.log_in(first, first, USERS[0])
    os.kill(first, signal.SIGKILL)
    deadline = time.monotonic() + 30
    while True:
        pids = two_workers.worker_pids()
        if len(pids) == 2 and first not in pids:
            break
        assert time.monotonic() < deadline, "no replacement worker"
        time.sleep(0.1)
    for pid in pids:
        assert browser.logged_in(pid)
    # And a restart of the whole server (new ports; the cookie has none).
    assert two_workers.stop() == 0
    two_workers.start()
    for pid in two_workers.worker_pids():
        assert browser.logged_in(pid)


def test_max_sessions_holds_across_workers(server_factory: ServerFactory) -> None:
    server = web_server(server_factory, web={"max_sessions": 2})
    first, second = server.worker_pids()
    browsers = [Browser(server) for _ in USERS]
    browsers[0].log_in(first, first, USERS[0])
    browsers[1].log_in(second, second, USERS[1])
    # The third login (its form takes a place too) pushes out the oldest one.
    browsers[2].log_in(first, second, USERS[2])
    assert browsers[2].logged_in(first) and browsers[2].logged_in(second)
    assert not browsers[0].logged_in(second)
    assert browsers[1].logged_in(first)


def test_the_lifetime_ends_a_login_in_every_worker(server_factory: ServerFactory) -> None:
    lifetime = 4.0
    server = web_server(server_factory, web={"session_lifetime": lifetime})
    first, second = server.worker_pids()
    browser = Browser(server)
    started = time.monotonic()
    browser.log_in(first, second, USERS[0])
    pid = first
    while browser.logged_in(pid):
        assert time.monotonic() - started < lifetime + 30, "the login outlived its lifetime"
        pid = second if pid == first else first
        time.sleep(0.2)
    assert time.monotonic() - started >= lifetime - 0.5
    other = second if pid == first else first
    assert not browser.logged_in(other)


def test_an_unusable_session_table_is_a_clear_startup_error(tmp_path: Path) -> None:
    config = write_config(tmp_path, listeners={"smtp": "127.0.0.1:0", "http": "127.0.0.1:0"})
    (tmp_path / "data" / "run" / "web-sessions.sqlite3").mkdir(parents=True)
    server = ServerProcess(config)
    with pytest.raises(RuntimeError) as failed:
        server.start()
    assert "http: cannot open the web session table" in str(failed.value)
    assert "Traceback" not in str(failed.value)


def test_failed_web_logins_in_one_worker_block_the_address_in_the_other(
    server_factory: ServerFactory,
) -> None:
    server = web_server(
        server_factory,
        auth={"free_failures": 2, "block_after_failures": 2, "block_seconds": 600},
    )
    first, second = server.worker_pids()
    browser = Browser(server)
    for _ in range(2):
        page = browser.request(first, "GET", "/login")
        form = {"csrf": csrf_of(page.body), "login": USERS[0], "password": "wrong"}
        assert browser.request(first, "POST", "/login", form).status == 401
    # The other worker hears of the failures over the event channel; an empty
    # password is never checked, so polling with it adds no failure of its own.
    deadline = time.monotonic() + TIMEOUT
    while True:
        page = browser.request(second, "GET", "/login")
        form = {"csrf": csrf_of(page.body), "login": USERS[0], "password": ""}
        status = browser.request(second, "POST", "/login", form).status
        if status == 429:
            break
        assert status == 401
        assert time.monotonic() < deadline, "worker 2 never blocked the address"
        time.sleep(0.2)
    page = browser.request(second, "GET", "/login")
    form = {"csrf": csrf_of(page.body), "login": USERS[0], "password": USERS[0]}
    assert browser.request(second, "POST", "/login", form).status == 429
