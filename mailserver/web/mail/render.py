"""A stored message made fit for a browser: headers, text, safe HTML, attachments.

Mail is hostile until proven otherwise. Parsing uses the standard library's
``email`` package, which never raises on malformed MIME (defects are
recorded, not thrown); every header read is guarded anyway, and long values
are cut. HTML goes through nh3 (the Rust ``ammonia`` sanitiser): scripts,
event handlers, forms, styles, frames and remote images are removed, links
open in a new tab without a referrer. The result is still shown only inside
a sandboxed iframe under its own Content-Security-Policy.
"""

from __future__ import annotations

import base64
import email
import email.policy
import email.utils
from dataclasses import dataclass, field
from email.message import EmailMessage, Message
from urllib.parse import unquote

import nh3

#: Characters of one header value shown; the raw view has all of it.
MAX_HEADER_TEXT = 2000
#: Characters of a text part shown inline.
MAX_TEXT = 2_000_000
#: Parts looked at in one message (a MIME bomb has thousands).
MAX_PARTS = 500

#: Tags nh3 keeps: its defaults without images, which are decided per source below.
_TAGS = set(nh3.ALLOWED_TAGS)
_TAGS.add("img")
_ATTRIBUTES: dict[str, set[str]] = {
    tag: set(attrs) for tag, attrs in nh3.ALLOWED_ATTRIBUTES.items()
}
_ATTRIBUTES["img"] = {"src", "alt", "width", "height"}
_URL_SCHEMES = {"http", "https", "mailto", "data", "cid"}
#: Inline images served from a message (never SVG: it can carry script).
#: Octets of inline images put into one message's HTML.
MAX_INLINE_IMAGES = 10 * 1024 * 1024
INLINE_IMAGE_TYPES = frozenset({"image/png", "image/jpeg", "image/gif", "image/webp"})


@dataclass(frozen=True)
class Attachment:
    """A part offered for download; ``index`` is its place in ``Message.walk()``."""

    index: int
    filename: str
    content_type: str
    size: int


@dataclass
class Rendered:
    """What the message page shows."""

    subject: str
    sender: str
    to: str
    cc: str
    date: str
    message_id: str
    text: str | None = None
    html: str | None = None
    attachments: list[Attachment] = field(default_factory=list)
    #: Remote images (or other blocked sources) were removed from the HTML.
    blocked_images: bool = False
    defects: int = 0


def parse(data: bytes) -> EmailMessage:
    """The message as an ``EmailMessage`` (the modern API); never raises on bad MIME."""
    message = email.message_from_bytes(data, policy=email.policy.default)
    assert isinstance(message, EmailMessage)
    return message


def header(message: Message, name: str, limit: int = MAX_HEADER_TEXT) -> str:
    """The decoded header, or its raw text when it cannot be decoded; cut to ``limit``."""
    try:
        value = message.get(name)
        text = "" if value is None else str(value)
    except Exception:  # the header parser met something it cannot represent
        raw = message.get_all(name, failobj=[])
        text = " ".join(str(item) for item in raw)
    text = " ".join(text.split())
    return text if len(text) <= limit else text[:limit] + " …"


def render(data: bytes) -> Rendered:
    message = parse(data)
    result = Rendered(
        subject=header(message, "Subject"),
        sender=header(message, "From"),
        to=header(message, "To"),
        cc=header(message, "Cc"),
        date=header(message, "Date"),
        message_id=header(message, "Message-ID"),
    )
    body = _body_part(message)
    for index, part in enumerate(message.walk()):
        if index >= MAX_PARTS:
            break
        result.defects += len(getattr(part, "defects", ()))
        if part.is_multipart() or part is body:
            continue
        if _is_attachment(part):
            result.attachments.append(_attachment(index, part))
    if body is not None:
        text = part_text(body)
        if body.get_content_type() == "text/html":
            result.html, result.blocked_images = sanitize_html(text, inline_images(message))
        else:
            result.text = text
    return result


def _body_part(message: EmailMessage) -> Message | None:
    """HTML if the sender offered it, else plain text (Roundcube's default)."""
    try:
        return message.get_body(preferencelist=("html", "plain"))
    except Exception:
        return None


def _is_attachment(part: Message) -> bool:
    if part.get_content_disposition() == "attachment" or part.get_filename():
        return True
    return part.get_content_maintype() not in ("text", "multipart")


def _attachment(index: int, part: Message) -> Attachment:
    payload = _payload(part)
    return Attachment(
        index=index,
        filename=safe_filename(part, index),
        content_type=part.get_content_type(),
        size=len(payload),
    )


def _payload(part: Message) -> bytes:
    try:
        payload = part.get_payload(decode=True)
    except Exception:
        return b""
    return payload if isinstance(payload, bytes) else b""


def part_bytes(data: bytes, index: int) -> tuple[Message, bytes] | None:
    """The part at ``index`` of ``walk()`` and its decoded content, None if there is none."""
    for number, part in enumerate(parse(data).walk()):
        if number >= MAX_PARTS:
            return None
        if number == index:
            return (part, b"") if part.is_multipart() else (part, _payload(part))
    return None


def inline_images(message: Message) -> dict[str, str]:
    """Content-ID -> ``data:`` URL of each PNG/JPEG/GIF/WebP part (never SVG), bounded."""
    found: dict[str, str] = {}
    total = 0
    for number, part in enumerate(message.walk()):
        if number >= MAX_PARTS:
            break
        if part.is_multipart() or part.get_content_type() not in INLINE_IMAGE_TYPES:
            continue
        content_id = header(part, "Content-ID").strip().strip("<>")
        payload = _payload(part) if content_id else b""
        total += len(payload)
        if payload and total <= MAX_INLINE_IMAGES:
            encoded = base64.b64encode(payload).decode("ascii")
            found[content_id] = f"data:{part.get_content_type()};base64,{encoded}"
    return found


def part_text(part: Message) -> str:
    """A text part decoded with its charset (a wrong or unknown one falls back safely)."""
    payload = _payload(part)
    charset = part.get_content_charset() or "utf-8"
    try:
        text = payload.decode(charset, errors="replace")
    except LookupError:
        text = payload.decode("utf-8", errors="replace")
    return text[:MAX_TEXT]


def safe_filename(part: Message, index: int) -> str:
    """The part's file name without paths or control characters; a made-up one if none."""
    try:
        name = part.get_filename() or ""
    except Exception:
        name = ""
    name = name.replace("\\", "/").rsplit("/", 1)[-1]
    name = "".join(c for c in name if c.isprintable() and c not in '"<>:|?*').strip(" .")
    if not name:
        subtype = part.get_content_subtype() if not part.is_multipart() else "bin"
        name = f"part-{index}.{subtype or 'bin'}"
    return name[:200]


def sanitize_html(html: str, images: dict[str, str] | None = None) -> tuple[str, bool]:
    """(safe HTML, whether images from elsewhere were dropped).

    Images are kept only when they come with the message: ``data:`` raster
    images, and ``cid:`` references to the message's own raster parts
    (``images``: Content-ID -> ``data:`` URL). Inlining them keeps the body
    document free of any request back to the server: its sandbox has no
    origin, so it could not send the session cookie anyway.
    """
    blocked = False
    images = images or {}

    def keep(tag: str, attribute: str, value: str) -> str | None:
        nonlocal blocked
        if tag == "img" and attribute == "src":
            lowered = value.strip().lower()
            if lowered.startswith("data:image/") and not lowered.startswith("data:image/svg"):
                return value
            if lowered.startswith("cid:"):
                found = images.get(unquote(value.strip()[4:]).strip("<>"))
                if found is not None:
                    return found
            blocked = True
            return None
        if attribute in ("href", "src") and value.strip().lower().startswith("data:"):
            return None
        return value

    clean = nh3.clean(
        html,
        tags=_TAGS,
        attributes=_ATTRIBUTES,
        url_schemes=_URL_SCHEMES,
        attribute_filter=keep,
        link_rel="noopener noreferrer nofollow",
        set_tag_attribute_values={"a": {"target": "_blank"}},
        strip_comments=True,
    )
    return clean, blocked


def reply_quote(text: str, sender: str, date: str) -> str:
    """The body of a reply: who wrote, then their lines with ``> ``."""
    quoted = "\n".join("> " + line if line else ">" for line in text.splitlines())
    return f"\n\nOn {date}, {sender} wrote:\n{quoted}\n"


def addresses(*values: str) -> list[tuple[str, str]]:
    """(name, address) pairs from header values; junk is skipped."""
    return [(n, a) for n, a in email.utils.getaddresses(list(values)) if "@" in a]
