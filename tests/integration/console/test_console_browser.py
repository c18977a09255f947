"""The instructor console in headless Chromium against the real server.

The live view must show an SMTP session typed over a raw socket while that
session is still open; a student must not reach the console; a POST
without the CSRF token must be refused.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from mailserver.auth import UserDatabase
from tests.support.chromium import chromium
from tests.support.lines import LineClient
from tests.support.server import DOMAIN, ServerProcess

TEACHER = "teacher"
WAIT = 30.0
#: Set to a folder to keep the console's screenshot there (README's docs/screenshots).
SCREENSHOTS = os.environ.get("MAILSERVER_SCREENSHOTS")


@pytest.fixture
def web_server(server_factory: Callable[..., ServerProcess]) -> ServerProcess:
    server = server_factory(
        listeners={name: "127.0.0.1:0" for name in ("smtp", "pop3", "imap", "http")},
        web={"admins": [TEACHER]},
    )
    UserDatabase(server.data_dir / "users.yaml").add_many([(TEACHER, TEACHER)])
    return server


def log_in(driver: Any, base: str, user: str) -> None:
    from selenium.webdriver.common.by import By
    from selenium.webdriver.support import expected_conditions
    from selenium.webdriver.support.ui import WebDriverWait

    driver.delete_all_cookies()
    driver.get(base + "/login")
    driver.find_element(By.NAME, "login").send_keys(user)
    driver.find_element(By.NAME, "password").send_keys(user)
    driver.find_element(By.CSS_SELECTOR, "form[action='/login'] button").click()
    WebDriverWait(driver, WAIT).until(expected_conditions.url_contains("/mail/"))


def post_without_token(driver: Any, path: str, body: str) -> int:
    """A same-origin fetch POST carrying the login cookie but no CSRF token."""
    status: int = driver.execute_async_script(
        """
        const done = arguments[arguments.length - 1];
        fetch(arguments[0], {method: "POST", body: arguments[1],
               headers: {"Content-Type": "application/x-www-form-urlencoded"}})
          .then(r => done(r.status), () => done(-1));
        """,
        path,
        body,
    )
    return status


def test_console_shows_a_raw_smtp_session_live(web_server: ServerProcess) -> None:
    from selenium.webdriver.common.by import By
    from selenium.webdriver.support.ui import WebDriverWait

    base = f"http://127.0.0.1:{web_server.ports['http']}"
    with chromium() as driver:
        log_in(driver, base, TEACHER)
        driver.get(base + "/console/")
        wait = WebDriverWait(driver, WAIT)
        wait.until(lambda d: d.find_element(By.ID, "live-status").text == "live.")

        client = LineClient(web_server.host, web_server.ports["smtp"])
        port = client.sock.getsockname()[1]
        client.expect("220")
        client.send("EHLO browser-test")
        client.read_until(lambda line: line.startswith("250 "))
        client.send(f"MAIL FROM:<group1_1@{DOMAIN}>")
        client.expect("250")

        def session_text(d: Any) -> str | None:
            for node in d.find_elements(By.CSS_SELECTOR, "section.live-session"):
                if node.find_element(By.CSS_SELECTOR, ".peer").text == f"127.0.0.1:{port}":
                    text: str = node.text
                    return text if "S: 250 2.1.0" in text else None
            return None

        text = wait.until(session_text)
        assert "C: EHLO browser-test" in text
        assert f"C: MAIL FROM:<group1_1@{DOMAIN}>" in text
        connected = driver.find_element(By.ID, "connected")
        wait.until(lambda d: f"127.0.0.1:{port}" in connected.text)
        # Still connected: the session has not ended, yet the page has its lines.
        client.send("NOOP")
        client.expect("250")
        live = driver.find_elements(By.CSS_SELECTOR, "section.live-session.ended")
        assert all(f"127.0.0.1:{port}" not in node.text for node in live)

        if SCREENSHOTS:
            Path(SCREENSHOTS).mkdir(parents=True, exist_ok=True)
            driver.save_screenshot(str(Path(SCREENSHOTS) / "console.png"))

        client.send("QUIT")
        client.expect("221")
        wait.until(
            lambda d: any(
                f"127.0.0.1:{port}" in node.text and "ended after" in node.text
                for node in d.find_elements(By.CSS_SELECTOR, "section.live-session.ended")
            )
        )
        wait.until(lambda d: f"127.0.0.1:{port}" not in connected.text)
        # The finished list has it after a reload.
        driver.get(base + "/console/?protocol=smtp")
        assert f"127.0.0.1:{port}" in driver.find_element(By.ID, "finished").text

        # A forged POST (the instructor's cookie, no CSRF token) is refused.
        assert post_without_token(driver, "/console/unblock", "address=127.0.0.1") == 403
        assert post_without_token(driver, "/console/accounts/group1_1/reset", "") == 403


def test_student_and_stranger_cannot_open_the_console(web_server: ServerProcess) -> None:
    from selenium.webdriver.common.by import By

    base = f"http://127.0.0.1:{web_server.ports['http']}"
    pages = ["/console/", "/console/class", "/console/stream", "/console/sessions/x"]
    with chromium() as driver:
        for page in pages:
            driver.get(base + page)
            assert "/login" in driver.current_url, page
        log_in(driver, base, "group1_1")
        assert "Console" not in driver.find_element(By.TAG_NAME, "header").text
        for page in pages:
            driver.get(base + page)
            assert "for instructors only" in driver.find_element(By.TAG_NAME, "body").text, page
        assert post_without_token(driver, "/console/unblock", "address=127.0.0.1") == 403
