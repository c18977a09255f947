"""The console over packed transcripts (``transcripts/packing.py``): the live view and
the session page show every line once, in order, across a pack and an unpack."""

from __future__ import annotations

import json
import time
from typing import Any

from mailserver.transcripts.archive import shared_archive
from tests.support.web import WebLab
from tests.unit.web.test_console import admin_client, recorder


async def line_texts_until_closed(content: Any, session: str) -> list[str]:
    """``direction: text`` of each ``line`` event of ``session`` up to its ``closed``."""
    texts: list[str] = []
    kind = None
    while True:
        line = (await content.readline()).decode().rstrip("\n")
        if line.startswith("event: "):
            kind = line[7:]
        elif line.startswith("data: "):
            data = json.loads(line[6:])
            if data.get("session") != session:
                continue
            if kind == "line":
                texts.append(f"{data['direction']}: {data['text']}")
            elif kind == "closed":
                return texts


async def test_live_view_and_page_across_a_pack_are_exact(web_lab: WebLab) -> None:
    client, _ = await admin_client(web_lab)
    await client.get("/console/")  # the archive starts listening
    archive = shared_archive(web_lab.services.events)
    rec = recorder(web_lab, 40003)
    rec.server(b"220 ready\r\n")
    rec.client(b"EHLO pc1\r\n")
    rec.flush()
    rec.server(b"250 pc1 hello\r\n")
    rec.flush()
    assert archive.sweep(now=time.monotonic() + 60) == 1
    assert archive.live[rec.id].summary()["packed"]
    response = await client.get("/console/stream")  # its catch-up reads the packed lines
    rec.client(b"NOOP\r\n")
    rec.flush()  # unpacks the record
    assert not archive.live[rec.id].summary()["packed"]
    assert archive.sweep(now=time.monotonic() + 60) == 1
    rec.server(b"250 2.0.0 Ok\r\n")
    rec.close()
    expected = ["S: 220 ready", "C: EHLO pc1", "S: 250 pc1 hello", "C: NOOP", "S: 250 2.0.0 Ok"]
    assert await line_texts_until_closed(response.content, rec.id) == expected
    response.close()
    download = await client.get(f"/console/sessions/{rec.id}.txt")
    lines = [line[13:] for line in (await download.text()).splitlines() if line[:1] != "#"]
    assert lines == expected
