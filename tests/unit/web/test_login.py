"""Login, logout, cookies and CSRF of the web app (aiohttp test client, real store)."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

from mailserver.config.model import AuthSettings
from tests.support.web import WebLab, csrf_of, log_in, web_services


async def test_stranger_is_sent_to_login(web_lab: WebLab) -> None:
    client = await web_lab.client()
    response = await client.get("/mail/", allow_redirects=False)
    assert response.status == 303
    assert response.headers["Location"].startswith("/login?next=")


async def test_login_cookie_flags_and_rotation(web_lab: WebLab) -> None:
    client = await web_lab.client()
    page = await client.get("/login")
    anonymous = page.cookies["mailserver_session"]
    assert anonymous["httponly"] and anonymous["samesite"] == "Strict"
    assert not anonymous["secure"]  # plain http: a Secure cookie would never come back
    response = await client.post(
        "/login",
        data={"csrf": csrf_of(await page.text()), "login": "group1_1", "password": "group1_1"},
        allow_redirects=False,
    )
    assert response.status == 303
    logged_in = response.cookies["mailserver_session"]
    assert logged_in.value != anonymous.value, "the session id must change at login"
    assert logged_in["httponly"] and logged_in["samesite"] == "Strict"


async def test_wrong_password_and_login_without_token(web_lab: WebLab) -> None:
    client = await web_lab.client()
    page = await client.get("/login")
    token = csrf_of(await page.text())
    bad = await client.post("/login", data={"csrf": token, "login": "group1_1", "password": "nope"})
    assert bad.status == 401
    assert "Wrong account name or password" in await bad.text()
    forged = await client.post("/login", data={"login": "group1_1", "password": "group1_1"})
    assert forged.status == 403


async def test_logout_needs_token_and_ends_session(web_lab: WebLab) -> None:
    client = await web_lab.client()
    token = await log_in(client, "group1_1")
    refused = await client.post("/logout", data={}, allow_redirects=False)
    assert refused.status == 403
    assert (await client.get("/mail/", allow_redirects=False)).status == 200
    done = await client.post("/logout", data={"csrf": token}, allow_redirects=False)
    assert done.status == 303
    assert (await client.get("/mail/", allow_redirects=False)).status == 303


async def test_plaintext_login_refused_when_config_says_so(tmp_path: Path) -> None:
    services = web_services(tmp_path)
    config = replace(services.config, auth=AuthSettings(allow_plaintext_without_tls=False))
    lab = WebLab(replace(services, config=config), [])
    try:
        client = await lab.client()
        page = await client.get("/login")
        assert "refuses logins without TLS" in await page.text()
        response = await client.post(
            "/login",
            data={"csrf": csrf_of(await page.text()), "login": "group1_1", "password": "group1_1"},
            allow_redirects=False,
        )
        assert response.status == 403
    finally:
        await lab.close()


async def test_blocked_address_is_told_so(web_lab: WebLab) -> None:
    client = await web_lab.client()
    throttle = web_lab.services.auth.throttle
    for _ in range(50):
        throttle.record_failure("127.0.0.1", "group1_1")
        if throttle.is_blocked("127.0.0.1"):
            break
    assert throttle.is_blocked("127.0.0.1")
    page = await client.get("/login")
    response = await client.post(
        "/login",
        data={"csrf": csrf_of(await page.text()), "login": "group1_1", "password": "group1_1"},
    )
    assert response.status == 429
    assert "blocked" in await response.text()


async def test_next_must_stay_on_this_site(web_lab: WebLab) -> None:
    client = await web_lab.client()
    page = await client.get("/login")
    response = await client.post(
        "/login",
        data={
            "csrf": csrf_of(await page.text()),
            "login": "group1_1",
            "password": "group1_1",
            "next": "//evil.example/",
        },
        allow_redirects=False,
    )
    assert response.headers["Location"] == "/mail/"


async def test_security_headers(web_lab: WebLab) -> None:
    client = await web_lab.client()
    page = await client.get("/login")
    csp = page.headers["Content-Security-Policy"]
    assert "default-src 'none'" in csp and "'unsafe-inline'" not in csp
    assert page.headers["X-Content-Type-Options"] == "nosniff"
