"""The instructor console in headless Chromium with two workers.

SMTP sessions that ended on either worker before any console was open (each
worker kept its own, uncut) are listed and readable on whichever worker
serves the page; a stranger and a student are still kept out.
"""

from __future__ import annotations

from collections.abc import Callable

from mailserver.auth import UserDatabase
from tests.integration.console.test_console_browser import TEACHER, WAIT, log_in
from tests.integration.workers.test_web_sessions import web_server
from tests.integration.workers.test_workers import smtp_on
from tests.support.chromium import chromium
from tests.support.server import ServerProcess

#: Page loads per check: the browser's connection may land on either worker.
LOADS = 4


def test_sessions_typed_before_the_console_opened_show_on_every_worker(
    server_factory: Callable[..., ServerProcess],
) -> None:
    from selenium.webdriver.common.by import By
    from selenium.webdriver.support.ui import WebDriverWait

    server = web_server(server_factory, web={"admins": [TEACHER]})
    UserDatabase(server.data_dir / "users.yaml").add_many([(TEACHER, TEACHER)])
    for number, pid in enumerate(sorted(server.worker_pids())):
        client = smtp_on(server, pid)
        client.ehlo(f"unread-{number}")
        client.quit()
    base = f"http://127.0.0.1:{server.ports['http']}"
    with chromium() as driver:
        for page in ("/console/", "/console/sessions/x"):
            driver.get(base + page)
            assert "/login" in driver.current_url, page  # a stranger
        log_in(driver, base, "group1_1")
        driver.get(base + "/console/")
        assert "for instructors only" in driver.find_element(By.TAG_NAME, "body").text

        log_in(driver, base, TEACHER)
        for _ in range(LOADS):
            driver.get(base + "/console/?protocol=smtp")
            finished = driver.find_element(By.ID, "finished")
            links = [
                a.get_attribute("href")
                for a in finished.find_elements(By.CSS_SELECTOR, "a[href*='/console/sessions/']")
            ]
            texts = []
            for link in dict.fromkeys(link for link in links if link and ".txt" not in link):
                driver.get(link)
                WebDriverWait(driver, WAIT).until(lambda d: d.find_elements(By.TAG_NAME, "body"))
                texts.append(driver.find_element(By.TAG_NAME, "body").text)
            for number in range(2):
                assert any(f"C: ehlo unread-{number}" in text for text in texts), (number, texts)
