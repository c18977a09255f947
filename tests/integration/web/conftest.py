"""A real server with web listeners, and headless Chromium driven by Selenium.

One server and one browser per test module (module-scoped fixtures), so
the browser starts once. Chromium and chromedriver are Debian's
(``/usr/bin/chromium``, ``/usr/bin/chromedriver``); Selenium Manager is
never asked to download anything.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.support.chromium import chromium
from tests.support.server import ServerProcess, create_users, write_config

ADMIN = "teacher"
#: Seconds a page element may take to appear on a loaded 2-core machine.
WAIT = 30


def web_config(directory: Path, **overrides: Any) -> Path:
    listeners = {
        name: "127.0.0.1:0"
        for name in ("smtp", "submission", "pop3", "imap", "imaps", "http", "https")
    }
    settings: dict[str, Any] = {
        "listeners": listeners,
        "web": {"admins": [ADMIN]},
        # The hostile corpus has a message with 200 KB of header fields, over the
        # default header limit (100 KiB, refused since uploads stream): the web
        # pages must still show such a message safely when an admin allows it.
        "limits": {"max_header_size": 256 * 1024},
    }
    settings.update(overrides)
    path = write_config(directory, **settings)
    create_users(path)
    from mailserver.auth import UserDatabase
    from mailserver.config import load_config

    config = load_config(path)
    UserDatabase(config.user_db_path).add(ADMIN, ADMIN, plain_secret=True)
    return path


@pytest.fixture(scope="module")
def web_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ServerProcess]:
    directory = tmp_path_factory.mktemp("web")
    server = ServerProcess(web_config(directory)).start()
    yield server
    server.stop()


def http_url(server: ServerProcess, path: str = "/") -> str:
    return f"http://127.0.0.1:{server.ports['http']}{path}"


@pytest.fixture(scope="module")
def browser() -> Iterator[Any]:
    """Headless Chromium; its console log is readable with ``get_log('browser')``."""
    with chromium(window="1000,720", console_log=True) as driver:
        driver.set_page_load_timeout(WAIT)
        yield driver


def log_in(driver: Any, server: ServerProcess, user: str, password: str | None = None) -> None:
    """Log in through the form, as a student would (after logging out whoever was in)."""
    from selenium.webdriver.common.by import By

    driver.delete_all_cookies()
    driver.get(http_url(server, "/login"))
    driver.find_element(By.NAME, "login").send_keys(user)
    driver.find_element(By.NAME, "password").send_keys(password or user)
    driver.find_element(By.CSS_SELECTOR, "form[action='/login'] button").click()
    wait_for(driver, lambda d: d.find_elements(By.CSS_SELECTOR, ".topbar .who"))


def wait_for(driver: Any, condition: Any, timeout: float = WAIT) -> Any:
    """Poll ``condition(driver)`` until it is truthy, across page loads.

    An element found just before a form's POST navigates away belongs to the
    old document: chromedriver says so as a stale element or, caught a
    moment later, as the generic "Node with given id does not belong to the
    document". Both mean "look again"; any other WebDriver error still fails.
    """
    from selenium.common.exceptions import (
        NoSuchElementException,
        StaleElementReferenceException,
        WebDriverException,
    )
    from selenium.webdriver.support.ui import WebDriverWait

    def across_navigation(d: Any) -> Any:
        try:
            return condition(d)
        except WebDriverException as exc:
            if "does not belong to the document" in (exc.msg or ""):
                return False
            raise

    ignored = (NoSuchElementException, StaleElementReferenceException)
    return WebDriverWait(driver, timeout, ignored_exceptions=ignored).until(across_navigation)
