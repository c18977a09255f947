"""Webmail in a real browser (headless Chromium): a student's lab exercise 8.

Mail arrives by SMTP, is read and answered in the browser, and the result
is checked over IMAP; the hostile corpus runs no script; a forged POST is
refused. Screenshots of the list and a message go to docs/screenshots/.
"""

from __future__ import annotations

import contextlib
import email
import email.policy
import imaplib
import os
import re
import smtplib
import socket
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from selenium.common.exceptions import NoAlertPresentException
from selenium.webdriver.common.by import By

from tests.integration.web.conftest import ADMIN, http_url, log_in, wait_for
from tests.support.server import HOSTNAME, ServerProcess

#: Elements that must not survive sanitising (the body page's own <style> is in <head>).
DANGEROUS = "script, body style, form, iframe, object, embed, svg, link, meta[http-equiv]"
CORPUS = Path(__file__).parents[2] / "corpus" / "hostile"
#: ``MAILSERVER_SCREENSHOTS=docs/screenshots`` refreshes the README's pictures;
#: otherwise they go to the test's temp dir (a test run changes no tracked file).
SCREENSHOTS_ENV = "MAILSERVER_SCREENSHOTS"

LAB_MAIL = (
    "From: group1_2 <group1_2@JServer.NetLab>\r\n"
    "To: group1_1@JServer.NetLab\r\n"
    "Subject: Exercise 8: compare HTTP and HTTPS\r\n"
    "MIME-Version: 1.0\r\n"
    "Content-Type: text/plain; charset=utf-8\r\n"
    "\r\n"
    "Hi! Capture the login with Wireshark on port 8080 and again on 8443.\r\n"
    "Then reply with your capture attached.\r\n"
)


def send(server: ServerProcess, sender: str, recipient: str, data: bytes | str) -> None:
    with smtplib.SMTP("127.0.0.1", server.ports["smtp"], timeout=30) as smtp:
        smtp.sendmail(sender, [recipient], data if isinstance(data, bytes) else data.encode())


@pytest.fixture(scope="module")
def imap_of(web_server: ServerProcess) -> Iterator[Any]:
    opened: list[imaplib.IMAP4] = []

    def connect(user: str) -> imaplib.IMAP4:
        imap = imaplib.IMAP4("127.0.0.1", web_server.ports["imap"], timeout=30)
        imap.login(user, user)
        opened.append(imap)
        return imap

    yield connect
    for imap in opened:
        with contextlib.suppress(OSError, imaplib.IMAP4.error):
            imap.logout()


def flags_of(imap: imaplib.IMAP4, uid: bytes) -> str:
    status, data = imap.uid("FETCH", uid, "(FLAGS)")
    assert status == "OK"
    return str(data[0])


def poll(check: Any, timeout: float = 30.0) -> Any:
    """``check()`` until it returns something true (a loaded machine may be slow)."""
    deadline = time.monotonic() + timeout
    while True:
        result = check()
        if result or time.monotonic() > deadline:
            return result
        time.sleep(0.2)


def test_read_reply_with_attachment_and_flag(
    web_server: ServerProcess, browser: Any, imap_of: Any, tmp_path: Path
) -> None:
    send(web_server, "group1_2@JServer.NetLab", "group1_1@JServer.NetLab", LAB_MAIL)
    watcher = imap_of("group1_1")
    assert watcher.select("INBOX")[0] == "OK"
    _status, found = watcher.uid("SEARCH", "SUBJECT", "Exercise")
    (uid,) = found[0].split()
    assert "\\Seen" not in flags_of(watcher, uid)

    log_in(browser, web_server, "group1_1")
    browser.get(http_url(web_server, "/mail/"))
    row = browser.find_element(By.CSS_SELECTOR, "table.messages tr.unread td.subject a")
    assert "Exercise 8" in row.text
    unread = browser.find_element(By.CSS_SELECTOR, ".folders a.current .count").text
    assert unread == "1"
    screenshots = Path(os.environ.get(SCREENSHOTS_ENV) or tmp_path)
    screenshots.mkdir(parents=True, exist_ok=True)
    assert browser.save_screenshot(str(screenshots / "webmail-list.png"))
    row.click()
    wait_for(browser, lambda d: d.find_elements(By.CSS_SELECTOR, "pre.text"))
    assert "Wireshark" in browser.find_element(By.CSS_SELECTOR, "pre.text").text
    assert browser.save_screenshot(str(screenshots / "webmail-message.png"))

    # Read in the browser: \Seen for the IMAP session at once (a NOOP reports it).
    def seen_by_noop() -> bool:
        watcher.noop()
        return "\\Seen" in flags_of(watcher, uid)

    assert poll(seen_by_noop)

    browser.find_element(By.ID, "flag").click()
    wait_for(browser, lambda d: d.find_elements(By.ID, "unflag"))
    assert poll(lambda: "\\Flagged" in flags_of(watcher, uid))

    capture = tmp_path / "capture-http.txt"
    capture.write_text("POST /login HTTP/1.1\r\n\r\nlogin=group1_1&password=group1_1\r\n")
    browser.find_element(By.LINK_TEXT, "Reply").click()
    body = wait_for(browser, lambda d: d.find_element(By.NAME, "body"))
    assert "> Hi! Capture the login" in body.get_attribute("value")
    assert (
        browser.find_element(By.NAME, "to")
        .get_attribute("value")
        .endswith("group1_2@JServer.NetLab>")
    )
    body.send_keys("Here it is: 密码 crossed the wire readable.")
    browser.find_element(By.NAME, "attachment").send_keys(str(capture))
    browser.find_element(By.ID, "send").click()
    wait_for(browser, lambda d: "Message sent" in d.find_element(By.TAG_NAME, "body").text)
    assert poll(lambda: "\\Answered" in flags_of(watcher, uid))

    reader = imap_of("group1_2")
    reader.select("INBOX")

    def reply_uids() -> list[bytes]:
        reader.noop()
        return reader.uid("SEARCH", "SUBJECT", '"Re: Exercise 8"')[1][0].split()

    (reply_uid,) = poll(reply_uids)
    _status, data = reader.uid("FETCH", reply_uid, "(BODY.PEEK[])")
    message = email.message_from_bytes(data[0][1], policy=email.policy.default)
    assert message["From"] == f"group1_1@{HOSTNAME}"
    text = message.get_body(("plain",)).get_content()  # type: ignore[union-attr]
    assert "密码 crossed the wire" in text
    (attachment,) = list(message.iter_attachments())  # type: ignore[attr-defined]
    assert attachment.get_filename() == "capture-http.txt"
    content = attachment.get_content()
    assert "password=group1_1" in (content if isinstance(content, str) else content.decode())


def test_idle_client_hears_browser_read(web_server: ServerProcess, browser: Any) -> None:
    """An IMAP client in IDLE is told at once when the browser marks a message read."""
    send(web_server, "group1_2@JServer.NetLab", "group1_2@JServer.NetLab", LAB_MAIL)
    with socket.create_connection(("127.0.0.1", web_server.ports["imap"]), timeout=30) as sock:
        lines = sock.makefile("rb")
        lines.readline()
        sock.sendall(b"a1 LOGIN group1_2 group1_2\r\na2 SELECT INBOX\r\n")
        while not lines.readline().startswith(b"a2 OK"):
            pass
        sock.sendall(b"a3 IDLE\r\n")
        assert lines.readline().startswith(b"+")
        log_in(browser, web_server, "group1_2")
        browser.get(http_url(web_server, "/mail/"))
        browser.find_element(By.CSS_SELECTOR, "table.messages tr.unread td.subject a").click()
        wait_for(browser, lambda d: d.find_elements(By.CSS_SELECTOR, "pre.text"))
        heard = lines.readline()  # the socket timeout (30 s) bounds the wait
        assert re.match(rb"\* \d+ FETCH \(.*FLAGS \([^)]*\\Seen", heard), heard
        sock.sendall(b"DONE\r\n")


def test_inline_image_shows_in_the_sandbox(web_server: ServerProcess, browser: Any) -> None:
    """A cid: image of the message itself loads; the remote one beside it does not."""
    pixel = (
        "iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mNk"
        "+M9QDwADhgGAWjR9awAAAABJRU5ErkJggg=="
    )
    message = (
        "From: group1_2@JServer.NetLab\r\nTo: group1_3@JServer.NetLab\r\nSubject: picture\r\n"
        'MIME-Version: 1.0\r\nContent-Type: multipart/related; boundary="r"\r\n\r\n'
        "--r\r\nContent-Type: text/html\r\n\r\n"
        '<p><img id="local" src="cid:pixel@x"><img id="remote" src="http://127.0.0.1:9/t.png"></p>\r\n'
        "--r\r\nContent-Type: image/png\r\nContent-ID: <pixel@x>\r\n"
        f"Content-Transfer-Encoding: base64\r\n\r\n{pixel}\r\n--r--\r\n"
    )
    send(web_server, "group1_2@JServer.NetLab", "group1_3@JServer.NetLab", message)
    log_in(browser, web_server, "group1_3")
    browser.get(http_url(web_server, "/mail/?q=picture"))
    browser.find_element(By.CSS_SELECTOR, "table.messages td.subject a").click()
    assert (
        "Images from other sites were not loaded"
        in wait_for(browser, lambda d: d.find_element(By.CSS_SELECTOR, "article.message")).text
    )
    browser.switch_to.frame(browser.find_element(By.CSS_SELECTOR, "article.message iframe"))
    try:
        loaded = "const i = document.images[0]; return i.complete && i.naturalWidth"
        assert wait_for(browser, lambda d: d.execute_script(loaded)) == 1
        assert len(browser.find_elements(By.TAG_NAME, "img")) == 2
        remote = browser.find_elements(By.TAG_NAME, "img")[1]
        assert remote.get_attribute("src") in (None, "")
    finally:
        browser.switch_to.default_content()


def test_phone_sized_screen(web_server: ServerProcess, browser: Any, tmp_path: Path) -> None:
    """No page needs sideways scrolling on a 360 px wide phone."""
    send(web_server, "group1_2@JServer.NetLab", "group1_2@JServer.NetLab", LAB_MAIL)
    log_in(browser, web_server, "group1_2")
    browser.set_window_size(360, 740)
    try:
        overflow = "return document.documentElement.scrollWidth - window.innerWidth"
        for path in ("/mail/", "/mail/compose", "/login"):
            browser.get(http_url(web_server, path))
            assert browser.execute_script(overflow) <= 0, path
            if path == "/mail/":
                shots = Path(os.environ.get(SCREENSHOTS_ENV) or tmp_path)
                assert browser.save_screenshot(str(shots / "webmail-phone.png"))
        browser.get(http_url(web_server, "/mail/"))
        browser.find_element(By.CSS_SELECTOR, "table.messages td.subject a").click()
        wait_for(browser, lambda d: d.find_elements(By.CSS_SELECTOR, "article.message h1"))
        assert browser.execute_script(overflow) <= 0, "message page"
    finally:
        browser.set_window_size(1000, 720)


def test_hostile_messages_run_nothing(web_server: ServerProcess, browser: Any) -> None:
    files = sorted(CORPUS.glob("*.eml"))
    assert len(files) >= 6
    for path in files:
        send(web_server, "mallory@JServer.NetLab", "group1_3@JServer.NetLab", path.read_bytes())
    log_in(browser, web_server, "group1_3")
    browser.get_log("browser")  # start with an empty console
    browser.get(http_url(web_server, "/mail/?q=hostile"))
    links = [
        a.get_attribute("href")
        for a in browser.find_elements(By.CSS_SELECTOR, "table.messages td.subject a")
    ]
    assert len(links) == len(files)
    assert_nothing_ran(browser, "message list")
    for link in links:
        browser.get(link)
        wait_for(browser, lambda d: d.find_elements(By.CSS_SELECTOR, "article.message h1"))
        frames = browser.find_elements(By.CSS_SELECTOR, "article.message iframe")
        for frame in frames:
            assert frame.get_attribute("sandbox") is not None
            browser.switch_to.frame(frame)
            wait_for(
                browser, lambda d: d.execute_script("return document.readyState") == "complete"
            )
            assert not browser.find_elements(By.CSS_SELECTOR, DANGEROUS)
            assert browser.execute_script("return window.pwned") is None
            for anchor in browser.find_elements(By.TAG_NAME, "a"):
                href = anchor.get_attribute("href") or ""
                assert not href.lower().startswith(("javascript:", "data:")), href
            browser.switch_to.default_content()
        assert_nothing_ran(browser, link)
        for part in browser.find_elements(By.CSS_SELECTOR, ".attachments a"):
            assert "/" not in part.text and part.get_attribute("download") is not None
        # The same content in the source view and in reply/forward forms (a <textarea>).
        query = link.split("?", 1)[1]
        for page in (
            f"/mail/message/raw?{query}",
            f"/mail/compose?mode=replyall&{query}",
            f"/mail/compose?mode=forward&{query}",
        ):
            browser.get(http_url(web_server, page))
            wait_for(browser, lambda d: d.find_elements(By.TAG_NAME, "main"))
            assert_nothing_ran(browser, page)


def assert_nothing_ran(browser: Any, where: str) -> None:
    try:
        alert = browser.switch_to.alert
    except NoAlertPresentException:
        pass
    else:
        raise AssertionError(f"an alert opened on {where}: {alert.text}")
    assert browser.execute_script("return window.pwned") is None, where
    assert browser.title != "PWNED", where  # escaped text in the title is fine
    for entry in browser.get_log("browser"):
        # A console.log() call by page script; CSP reports of blocked code are "security".
        ran = entry.get("source") == "console-api" and "PWNED" in entry["message"]
        assert not ran, (where, entry)
        LOG.append(entry)


#: Every console entry seen (kept for a failing test's report).
LOG: list[dict[str, Any]] = []


def test_forged_post_without_token_is_refused(
    web_server: ServerProcess, browser: Any, imap_of: Any
) -> None:
    send(web_server, "group1_2@JServer.NetLab", "group1_2@JServer.NetLab", LAB_MAIL)
    log_in(browser, web_server, "group1_2")
    browser.get(http_url(web_server, "/mail/"))
    script = """
        const done = arguments[arguments.length - 1];
        const form = new URLSearchParams({op: 'flag', f: 'INBOX', uid: arguments[0]});
        fetch('/mail/action', {method: 'POST', body: form, redirect: 'manual'})
            .then(r => done(r.status), e => done(String(e)));
    """
    uid = browser.find_element(By.CSS_SELECTOR, "table.messages tbody tr").get_attribute("data-uid")
    assert browser.execute_async_script(script, uid) == 403
    # The same request with the page's token goes through: the refusal was the token.
    with_token = script.replace(
        "uid: arguments[0]",
        "uid: arguments[0], csrf: document.querySelector('meta[name=csrf-token]').content",
    )
    assert browser.execute_async_script(with_token, uid) in (0, 200, 303)
    watcher = imap_of("group1_2")
    watcher.select("INBOX")
    assert "\\Flagged" in flags_of(watcher, uid.encode())
    cookie = browser.get_cookie("mailserver_session")
    assert cookie["httpOnly"] and cookie["sameSite"] == "Strict"
    assert browser.execute_script("return document.cookie") == ""


def test_https_login_sets_secure_cookie(web_server: ServerProcess, browser: Any) -> None:
    """The https listener uses the mail listeners' (self-signed) certificate."""
    browser.delete_all_cookies()
    url = f"https://127.0.0.1:{web_server.ports['https']}/login"
    try:
        browser.get(url)
    except Exception:
        pytest.skip("the browser refused the self-signed certificate")
    if not browser.find_elements(By.NAME, "login"):
        # Chromium's certificate warning: "thisisunsafe" is its documented bypass.
        browser.find_element(By.TAG_NAME, "body").send_keys("thisisunsafe")
        wait_for(browser, lambda d: d.find_elements(By.NAME, "login"))
    browser.find_element(By.NAME, "login").send_keys("group1_1")
    browser.find_element(By.NAME, "password").send_keys("group1_1")
    browser.find_element(By.CSS_SELECTOR, "form[action='/login'] button").click()
    wait_for(browser, lambda d: d.find_elements(By.CSS_SELECTOR, ".topbar .who"))
    cookie = browser.get_cookie("mailserver_session")
    assert cookie["secure"] and cookie["httpOnly"]
    assert re.search(r"group1_1", browser.find_element(By.CSS_SELECTOR, ".topbar .who").text)


def test_no_page_asks_for_something_missing(web_server: ServerProcess, browser: Any) -> None:
    """A stranger, a student and the instructor each open their first page: the
    browser loads everything it asks for (the icon included), no 404 in its console."""
    browser.delete_all_cookies()
    pages = [(None, "/login"), ("group1_1", "/mail/"), (ADMIN, "/console/")]
    for user, page in pages:
        if user is not None:
            browser.delete_all_cookies()
            log_in(browser, web_server, user)
        browser.get_log("browser")  # start with an empty console
        browser.get(http_url(web_server, page))
        wait_for(browser, lambda d: d.execute_script("return document.readyState") == "complete")
        icon = browser.execute_script(
            "return fetch('/favicon.ico').then(r => r.status + ' ' + r.headers.get('content-type'))"
        )
        assert icon == "200 image/svg+xml", (user, icon)
        failed = [e for e in browser.get_log("browser") if e.get("source") == "network"]
        assert not failed, (user, page, failed)
