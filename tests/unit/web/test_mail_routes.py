"""Webmail routes over a real store: who may use each, and what each does.

aiohttp's test client (in process); the browser tests in
``tests/integration/web`` do the same things through Chromium.
"""

from __future__ import annotations

import email
import email.policy
import re
from pathlib import Path

import pytest
from aiohttp import FormData
from aiohttp.test_utils import TestClient

from mailserver.config.model import QuotaSettings
from mailserver.storage import ANSWERED, DRAFT, FLAGGED, SEEN
from tests.support.web import WebLab, log_in, web_services

MESSAGE = (
    b"From: Alice <group1_2@JServer.NetLab>\r\n"
    b"To: group1_1@JServer.NetLab\r\n"
    b"Subject: Lab notes\r\n"
    b"Date: Sun, 06 Dec 2026 10:00:00 +0000\r\n"
    b"Message-ID: <notes@JServer.NetLab>\r\n"
    b"MIME-Version: 1.0\r\n"
    b'Content-Type: multipart/mixed; boundary="b"\r\n'
    b"\r\n"
    b"--b\r\n"
    b"Content-Type: text/plain; charset=utf-8\r\n"
    b"\r\n"
    b"The secret word is pelican.\r\n"
    b"--b\r\n"
    b'Content-Type: text/html; name="page.html"\r\n'
    b'Content-Disposition: attachment; filename="../../evil\\"page.html"\r\n'
    b"\r\n"
    b"<script>alert(1)</script>\r\n"
    b"--b--\r\n"
)

#: Every webmail route: (method, path). Used for the stranger/student/other-student matrix.
ROUTES = [
    ("GET", "/mail/"),
    ("GET", "/mail/message?f=INBOX&uid=1"),
    ("GET", "/mail/message/body?f=INBOX&uid=1"),
    ("GET", "/mail/message/part?f=INBOX&uid=1&part=2"),
    ("GET", "/mail/message/raw?f=INBOX&uid=1"),
    ("GET", "/mail/compose"),
    ("POST", "/mail/action"),
    ("POST", "/mail/empty-trash"),
    ("POST", "/mail/compose"),
]


async def deliver(lab: WebLab, user: str, data: bytes = MESSAGE, folder: str = "INBOX") -> int:
    mailbox = await lab.services.store.mailbox(user)
    return await (await mailbox.folder(folder)).append(data)


async def flags(lab: WebLab, user: str, uid: int, folder: str = "INBOX") -> frozenset[str]:
    mailbox = await lab.services.store.mailbox(user)
    info = (await (await mailbox.folder(folder)).snapshot()).find(uid)
    assert info is not None
    return info.flags


@pytest.fixture
async def student(web_lab: WebLab) -> tuple[TestClient, str]:  # type: ignore[type-arg]
    await deliver(web_lab, "group1_1")
    client = await web_lab.client()
    return client, await log_in(client, "group1_1")


@pytest.mark.parametrize(("method", "path"), ROUTES)
async def test_stranger_gets_nothing(web_lab: WebLab, method: str, path: str) -> None:
    await deliver(web_lab, "group1_1")
    client = await web_lab.client()
    response = await client.request(method, path, allow_redirects=False, data={})
    if method == "GET":
        assert response.status == 303
        assert response.headers["Location"].startswith("/login")
    else:
        assert response.status == 403  # no session, so no CSRF token either
    assert "pelican" not in await response.text()


async def test_student_sees_only_own_mail(web_lab: WebLab) -> None:
    """group1_2 asking for UID 1 gets its own (empty) INBOX's answer, never group1_1's."""
    await deliver(web_lab, "group1_1")
    client = await web_lab.client()
    await log_in(client, "group1_2")
    for method, path in ROUTES:
        if method != "GET":
            continue
        response = await client.get(path, allow_redirects=False)
        assert "pelican" not in await response.text(), path
        if "uid=" in path:
            assert response.status == 404, path


async def test_forged_posts_are_refused(student: tuple[TestClient, str]) -> None:  # type: ignore[type-arg]
    client, token = student
    for _method, path in [r for r in ROUTES if r[0] == "POST"]:
        forged = await client.post(path, data={"op": "flag", "f": "INBOX", "uid": "1"})
        assert forged.status == 403, path
        wrong = await client.post(
            path, data={"csrf": token[:-2] + "xx", "op": "flag", "f": "INBOX", "uid": "1"}
        )
        assert wrong.status == 403, path


async def test_list_read_and_flags(web_lab: WebLab, student: tuple[TestClient, str]) -> None:  # type: ignore[type-arg]
    client, token = student
    listing = await (await client.get("/mail/")).text()
    assert "Lab notes" in listing and 'class="unread"' in listing
    assert re.search(r'<span class="count" title="unread">1</span>', listing)
    page = await client.get("/mail/message?f=INBOX&uid=1")
    text = await page.text()
    assert "pelican" in text
    assert SEEN in await flags(web_lab, "group1_1", 1)
    done = await client.post(
        "/mail/action", data={"csrf": token, "op": "flag", "f": "INBOX", "uid": "1"}
    )
    assert done.status == 200
    assert FLAGGED in await flags(web_lab, "group1_1", 1)
    await client.post(
        "/mail/action", data={"csrf": token, "op": "unread", "f": "INBOX", "uid": "1"}
    )
    assert SEEN not in await flags(web_lab, "group1_1", 1)


async def test_attachment_download_is_safe(student: tuple[TestClient, str]) -> None:  # type: ignore[type-arg]
    client, _ = student
    page = await (await client.get("/mail/message?f=INBOX&uid=1")).text()
    assert "part=2" in page
    response = await client.get("/mail/message/part?f=INBOX&uid=1&part=2")
    assert response.status == 200
    assert response.content_type == "application/octet-stream"
    disposition = response.headers["Content-Disposition"]
    assert disposition.startswith("attachment;")
    assert "/" not in disposition.split("filename=")[1].split(";")[0]
    assert b"<script>" in await response.read()


async def test_search_uses_subject_sender_and_body(
    web_lab: WebLab,
    student: tuple[TestClient, str],  # type: ignore[type-arg]
) -> None:
    client, _ = student
    await deliver(
        web_lab, "group1_1", MESSAGE.replace(b"Lab notes", b"Other thing").replace(b"pelican", b"x")
    )
    for query, hits in (("pelican", 1), ("lab NOTES", 1), ("alice", 2), ("nothing-like-this", 0)):
        text = await (await client.get("/mail/", params={"q": query})).text()
        assert f"{hits} message(s) match" in text, query


async def test_pagination_newest_first(web_lab: WebLab) -> None:
    for number in range(1, 8):
        await deliver(web_lab, "group1_2", MESSAGE.replace(b"Lab notes", b"Note %d" % number))
    from dataclasses import replace

    from mailserver.config.model import WebSettings

    web_lab.services = replace(
        web_lab.services,
        config=replace(web_lab.services.config, web=WebSettings(admins=(), page_size=3)),
    )
    client = await web_lab.client()
    await log_in(client, "group1_2")
    first = await (await client.get("/mail/")).text()
    assert first.index("Note 7") < first.index("Note 6") < first.index("Note 5")
    assert "Note 4" not in first and "Page 1 of 3" in first
    last = await (await client.get("/mail/?page=3")).text()
    assert "Note 1" in last and "Note 2" not in last


async def test_delete_to_trash_then_empty(web_lab: WebLab, student: tuple[TestClient, str]) -> None:  # type: ignore[type-arg]
    client, token = student
    await client.post(
        "/mail/action", data={"csrf": token, "op": "delete", "f": "INBOX", "uid": "1"}
    )
    mailbox = await web_lab.services.store.mailbox("group1_1")
    assert not (await (await mailbox.folder("INBOX")).snapshot()).messages
    assert len((await (await mailbox.folder("Trash")).snapshot()).messages) == 1
    await client.post("/mail/empty-trash", data={"csrf": token})
    assert not (await (await mailbox.folder("Trash")).snapshot()).messages


async def test_move(web_lab: WebLab, student: tuple[TestClient, str]) -> None:  # type: ignore[type-arg]
    client, token = student
    await client.post(
        "/mail/action",
        data={"csrf": token, "op": "move", "f": "INBOX", "uid": "1", "target": "Archive"},
    )
    mailbox = await web_lab.services.store.mailbox("group1_1")
    assert len((await (await mailbox.folder("Archive")).snapshot()).messages) == 1


async def test_send_reply_with_chinese_subject(
    web_lab: WebLab, student: tuple[TestClient, str]
) -> None:  # type: ignore[type-arg]
    client, token = student
    form = await (await client.get("/mail/compose?mode=reply&f=INBOX&uid=1")).text()
    assert "Re: Lab notes" in form and "&gt; The secret word is pelican." in form
    response = await client.post(
        "/mail/compose",
        data={
            "csrf": token,
            "mode": "reply",
            "to": "group1_2@JServer.NetLab",
            "subject": "实验报告 Re: Lab notes",
            "body": "收到谢谢",
            "source_folder": "INBOX",
            "source_uid": "1",
            "in_reply_to": "<notes@JServer.NetLab>",
            "action": "send",
        },
    )
    assert response.status == 200, await response.text()
    assert ANSWERED in await flags(web_lab, "group1_1", 1)
    inbox = await (await web_lab.services.store.mailbox("group1_2")).folder("INBOX")
    snapshot = await inbox.snapshot()
    assert len(snapshot.messages) == 1
    raw = await inbox.read(snapshot.messages[0].uid)
    head = raw.split(b"\r\n\r\n", 1)[0]
    assert b"=?utf-8?" in head.lower() and "实验".encode() not in head  # RFC 2047 on the wire
    parsed = email.message_from_bytes(raw, policy=email.policy.default)
    assert parsed["Subject"] == "实验报告 Re: Lab notes"
    assert parsed.get_content().strip() == "收到谢谢"  # type: ignore[attr-defined]
    assert parsed["In-Reply-To"] == "<notes@JServer.NetLab>"
    assert b"Received:" in raw
    sent = await (await web_lab.services.store.mailbox("group1_1")).folder("Sent")
    assert len((await sent.snapshot()).messages) == 1


async def test_send_to_unknown_local_user_is_refused(student: tuple[TestClient, str]) -> None:  # type: ignore[type-arg]
    client, token = student
    response = await client.post(
        "/mail/compose",
        data={"csrf": token, "to": "nobody@JServer.NetLab", "subject": "x", "body": "y"},
    )
    assert response.status == 400
    assert "nobody@JServer.NetLab: 550" in await response.text()


async def test_save_draft(web_lab: WebLab, student: tuple[TestClient, str]) -> None:  # type: ignore[type-arg]
    client, token = student
    response = await client.post(
        "/mail/compose",
        data={
            "csrf": token,
            "to": "group1_2",
            "subject": "half done",
            "body": "…",
            "action": "draft",
        },
    )
    assert response.status == 200
    assert "half done" in await response.text()
    drafts = await (await web_lab.services.store.mailbox("group1_1")).folder("Drafts")
    (info,) = (await drafts.snapshot()).messages
    assert DRAFT in info.flags


async def test_send_to_other_domain_goes_to_the_queue(
    web_lab: WebLab,
    student: tuple[TestClient, str],  # type: ignore[type-arg]
) -> None:
    client, token = student
    response = await client.post(
        "/mail/compose",
        data={"csrf": token, "to": "friend@example.org", "subject": "out", "body": "bye"},
    )
    assert response.status == 200, await response.text()
    assert "Message sent" in await response.text()
    files = [p for p in (web_lab.services.config.data_dir / "queue").rglob("*") if p.is_file()]
    queued = b"".join(p.read_bytes() for p in files)
    assert b"friend@example.org" in queued
    received = re.search(rb"Received: from .*?;", queued, re.S)
    assert received, queued[:300]
    assert b"127.0.0.1" in received.group() and b"by JServer.NetLab" in received.group()
    assert b"with HTTP" in received.group()
    sent = await (await web_lab.services.store.mailbox("group1_1")).folder("Sent")
    assert len((await sent.snapshot()).messages) == 1


PIXEL = (
    "iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mNk"
    "+M9QDwADhgGAWjR9awAAAABJRU5ErkJggg=="
)
INLINE = (
    "From: a@JServer.NetLab\r\nSubject: picture\r\nMIME-Version: 1.0\r\n"
    'Content-Type: multipart/related; boundary="r"\r\n\r\n'
    "--r\r\nContent-Type: text/html\r\n\r\n"
    '<p>look <img src="cid:pixel@x"><img src="cid:vector@x"></p>\r\n'
    "--r\r\nContent-Type: image/png\r\nContent-ID: <pixel@x>\r\n"
    "Content-Transfer-Encoding: base64\r\n\r\n"
    f"{PIXEL}\r\n"
    "--r\r\nContent-Type: image/svg+xml\r\nContent-ID: <vector@x>\r\n\r\n"
    "<svg><script>1</script></svg>\r\n"
    "--r--\r\n"
).encode()


async def test_inline_images_only_raster_from_the_message(
    web_lab: WebLab,
    student: tuple[TestClient, str],  # type: ignore[type-arg]
) -> None:
    client, _ = student
    uid = await deliver(web_lab, "group1_1", INLINE)
    body = await client.get(f"/mail/message/body?f=INBOX&uid={uid}")
    html = await body.text()
    assert f'src="data:image/png;base64,{PIXEL}"' in html
    assert "svg" not in html and "vector" not in html
    assert "img-src data:;" in body.headers["Content-Security-Policy"].replace(" ;", ";")


async def test_draft_keeps_attachments_when_sent(
    web_lab: WebLab,
    student: tuple[TestClient, str],  # type: ignore[type-arg]
) -> None:
    client, token = student
    form = FormData()
    for key, value in {"csrf": token, "to": "group1_2", "subject": "report", "body": "v1"}.items():
        form.add_field(key, value)
    form.add_field("action", "draft")
    form.add_field("attachment", b"col1,col2\n1,2\n", filename="data.csv", content_type="text/csv")
    page = await client.post("/mail/compose", data=form)
    text = await page.text()
    assert page.status == 200 and 'name="keep_part"' in text and "data.csv" in text
    index = re.search(r'name="keep_part" value="(\d+)"', text)
    draft_uid = re.search(r'name="draft_uid" value="(\d+)"', text)
    assert index and draft_uid
    sent = await client.post(
        "/mail/compose",
        data={
            "csrf": token,
            "mode": "draft",
            "to": "group1_2@JServer.NetLab",
            "subject": "report",
            "body": "v2",
            "source_folder": "Drafts",
            "draft_uid": draft_uid.group(1),
            "keep_part": index.group(1),
            "action": "send",
        },
    )
    assert "Message sent" in await sent.text()
    inbox = await (await web_lab.services.store.mailbox("group1_2")).folder("INBOX")
    (info,) = (await inbox.snapshot()).messages
    message = email.message_from_bytes(await inbox.read(info.uid), policy=email.policy.default)
    (attachment,) = list(message.iter_attachments())  # type: ignore[attr-defined]
    assert attachment.get_filename() == "data.csv"
    assert attachment.get_content_type() == "text/csv"
    drafts = await (await web_lab.services.store.mailbox("group1_1")).folder("Drafts")
    assert not (await drafts.snapshot()).messages  # the draft was replaced by the sent message


async def test_store_errors_become_clear_answers(tmp_path: Path) -> None:
    """Over quota: the store's own message with 507, not a traceback or a 500."""
    lab = WebLab(web_services(tmp_path, quota=QuotaSettings(default_mb=0.002)), [])
    try:
        client = await lab.client()
        token = await log_in(client, "group1_1")
        response = await client.post(
            "/mail/compose",
            data={"csrf": token, "subject": "big", "body": "x" * 5000, "action": "draft"},
        )
        assert response.status == 507
        text = await response.text()
        assert "quota" in text.lower() and "Traceback" not in text
    finally:
        await lab.close()


async def test_header_injection_is_flattened(
    web_lab: WebLab,
    student: tuple[TestClient, str],  # type: ignore[type-arg]
) -> None:
    client, token = student
    response = await client.post(
        "/mail/compose",
        data={
            "csrf": token,
            "to": "group1_2@JServer.NetLab\r\nBcc: group1_1@JServer.NetLab",
            "subject": "hi\r\nX-Injected: yes",
            "body": "b",
        },
    )
    assert response.status in (200, 400)
    delivered = 0
    for user in ("group1_1", "group1_2"):
        inbox = await (await web_lab.services.store.mailbox(user)).folder("INBOX")
        for info in (await inbox.snapshot()).messages:
            head = (await inbox.read(info.uid)).split(b"\r\n\r\n", 1)[0]
            assert b"\r\nX-Injected:" not in head and b"\r\nBcc:" not in head
            delivered += 1
    assert delivered >= 2  # the fixture's message and the flattened one
