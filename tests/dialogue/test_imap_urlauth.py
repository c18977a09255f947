"""URLAUTH (RFC 4467) transcripts after the RFC's examples: GENURLAUTH signs a URL
of the user's own message, URLFETCH honours it as the access identifier says,
RESETKEY revokes every URL signed before. Keys are checked on disk too."""

from __future__ import annotations

import re
import stat

from mailserver.imap.session import BASE_CAPABILITIES
from tests.dialogue import test_imap_rfc3501 as harness
from tests.dialogue.test_imap_rfc3501 import Dialogue, ImapLab

imap_lab_factory = harness.imap_lab_factory
imap_lab = harness.imap_lab

MESSAGE = (
    b"From: group1_1@JServer.NetLab\r\nTo: group1_2@JServer.NetLab\r\nSubject: draft\r\n"
    b'MIME-Version: 1.0\r\nContent-Type: multipart/mixed; boundary="b"\r\n\r\n'
    b"--b\r\nContent-Type: text/plain\r\n\r\nfirst part\r\n--b--\r\n"
)


async def genurlauth(client: Dialogue, tag: str, rump: str) -> str:
    await client.send(f'{tag} GENURLAUTH "{rump}" INTERNAL')
    line = await client.line()
    match = re.fullmatch(r'\* GENURLAUTH "(.*)"', line)
    assert match is not None, line
    await client.expect(f"{tag} OK GENURLAUTH completed")
    url = match.group(1)
    assert re.fullmatch(re.escape(rump) + ":internal:[0-9a-f]{64}", url)
    return url


async def urlfetch(client: Dialogue, tag: str, url: str) -> bytes | None:
    await client.send(f'{tag} URLFETCH "{url}"')
    line = await client.line_bytes()
    head = b'* URLFETCH "' + url.encode() + b'" '
    assert line.startswith(head), line
    rest = line[len(head) :]
    data = None
    if rest != b"NIL":
        size = int(re.fullmatch(rb"\{(\d+)\}", rest).group(1))  # type: ignore[union-attr]
        data = await client.read(size)
        assert await client.line_bytes() == b""
    await client.expect(f"{tag} OK URLFETCH completed")
    return data


async def test_genurlauth_urlfetch_resetkey(imap_lab: ImapLab) -> None:
    assert "URLAUTH" in BASE_CAPABILITIES
    await imap_lab.deliver(MESSAGE)
    uidvalidity = (await imap_lab.snapshot()).uidvalidity
    base = f"imap://group1_1@JServer.NetLab/INBOX;UIDVALIDITY={uidvalidity}/;UID=1"
    owner = await imap_lab.login()
    mine = await genurlauth(owner, "a1", base + ";URLAUTH=user+group1_1")
    anyone = await genurlauth(owner, "a2", base + "/;SECTION=1;URLAUTH=authuser")
    submit = await genurlauth(owner, "a3", base + ";URLAUTH=submit+group1_1")
    assert await urlfetch(owner, "a4", mine) == MESSAGE
    assert await urlfetch(owner, "a5", submit) is None  # for the submission server only
    other = await imap_lab.login("group1_2")
    assert await urlfetch(other, "b1", anyone) == b"first part"
    assert await urlfetch(other, "b2", mine) is None  # user+group1_1 only
    forged = mine[:-4] + ("0000" if not mine.endswith("0000") else "1111")
    assert await urlfetch(owner, "a6", forged) is None
    expired = await genurlauth(
        owner, "a7", base + ";EXPIRE=2001-01-01T00:00:00Z;URLAUTH=user+group1_1"
    )
    assert await urlfetch(owner, "a8", expired) is None
    # The key is the user's alone on disk.
    key_file = imap_lab.config.data_dir / "urlauth" / "group1_1.json"
    assert stat.S_IMODE(key_file.stat().st_mode) == 0o600
    await owner.play("C: a9 RESETKEY INBOX INTERNAL\nS: a9 OK RESETKEY completed")
    assert await urlfetch(owner, "a10", mine) is None
    assert await urlfetch(other, "b3", anyone) is None


async def test_genurlauth_refuses_what_it_cannot_sign(imap_lab: ImapLab) -> None:
    await imap_lab.deliver(MESSAGE)
    uidvalidity = (await imap_lab.snapshot()).uidvalidity
    client = await imap_lab.login()
    base = f"imap://group1_1@JServer.NetLab/INBOX;UIDVALIDITY={uidvalidity}"
    for number, rump in enumerate(
        [
            f"imap://group1_2@JServer.NetLab/INBOX;UIDVALIDITY={uidvalidity}/;UID=1;URLAUTH=anonymous",
            base + "/;UID=9;URLAUTH=anonymous",  # no such message
            "imap://group1_1@JServer.NetLab/INBOX/;UID=1;URLAUTH=anonymous",  # no UIDVALIDITY
            base + "/;UID=1",  # no URLAUTH
            base + "/;UID=1;URLAUTH=someone",
        ]
    ):
        await client.send(f'c{number} GENURLAUTH "{rump}" INTERNAL')
        await client.expect(f"c{number} NO [BADURL {rump}] Unable to resolve the URL")
    await client.play(
        f"""
        C: d1 GENURLAUTH "{base}/;UID=1;URLAUTH=anonymous" XSHA1
        S: d1 NO Unknown URLAUTH mechanism XSHA1
        C: d2 RESETKEY Nowhere
        S: d2 NO [NONEXISTENT] *
        C: d3 RESETKEY
        S: d3 OK RESETKEY completed
        C: d4 URLFETCH "not a url"
        S: * URLFETCH "not a url" NIL
        S: d4 OK URLFETCH completed
        """
    )
