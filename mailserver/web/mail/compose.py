"""Writing mail: new, reply, reply-all, forward, drafts; sending by the submission path.

The message is built with the standard library's ``EmailMessage``: UTF-8
text, attachments as MIME parts, and non-ASCII header text (a Chinese
subject) encoded as RFC 2047 encoded words on the wire. Sending calls
:func:`mailserver.submission.submit`, the same function SMTP's DATA uses,
so local delivery, the queue, ``Received:`` and quotas behave exactly as
for a mail client; a copy is then stored in Sent.
"""

from __future__ import annotations

import email.errors
import email.policy
import email.utils
import logging
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from email.message import EmailMessage
from urllib.parse import quote

import nh3
from aiohttp import web
from multidict import MultiDictProxy

from mailserver.storage import (
    ANSWERED,
    DELETED,
    DRAFT,
    INBOX,
    SEEN,
    FlagMode,
    Mailbox,
    StorageError,
)
from mailserver.submission import Client, Recipient, Submission, recipient, submit
from mailserver.web.keys import SERVICES
from mailserver.web.mail import render as mime
from mailserver.web.mail.folders import (
    folder_entries,
    mailbox_of,
    open_folder,
    read_message,
    special_folder,
)
from mailserver.web.security import WebUser, require_user
from mailserver.web.templates import flash, render

log = logging.getLogger("mailserver.web")

#: Serialise with CRLF and encoded words; 7-bit safe (base64/QP bodies) for any relay.
WIRE_POLICY = email.policy.SMTP.clone(cte_type="7bit")
MAX_FIELD = 10_000
MAX_BODY = 5_000_000
MAX_ATTACHMENTS = 20


@dataclass
class Draft:
    """What the compose form holds."""

    to: str = ""
    cc: str = ""
    bcc: str = ""
    subject: str = ""
    body: str = ""
    in_reply_to: str = ""
    references: str = ""
    #: The message being answered or forwarded (folder, uid), to flag or attach it.
    source_folder: str = ""
    source_uid: int = 0
    mode: str = "new"
    #: A saved draft this form replaces when saved again or sent.
    draft_uid: int = 0
    #: Attachments of that draft, offered to keep (index in its ``walk()``).
    draft_attachments: list[mime.Attachment] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)


@dataclass(frozen=True)
class Carried:
    """An attachment that comes from a stored message, not from this upload."""

    filename: str
    content_type: str
    content: bytes


def own_address(request: web.Request, user: str) -> str:
    config = request.app[SERVICES].config
    return f"{user}@{config.domains[0]}"


async def compose_form(request: web.Request) -> web.StreamResponse:
    user = require_user(request)
    mode = request.query.get("mode", "new")
    draft = Draft(mode=mode)
    if mode in ("reply", "replyall", "forward", "draft"):
        await _prefill(request, user, draft)
    return await _form(request, user, draft)


async def _form(
    request: web.Request, user: WebUser, draft: Draft, status: int = 200
) -> web.Response:
    mailbox = await mailbox_of(request, user.name)
    return render(
        request,
        "mail_compose.html",
        status=status,
        draft=draft,
        sender=own_address(request, user.name),
        folders=await folder_entries(mailbox),
        folder="",
    )


async def _prefill(request: web.Request, user: WebUser, draft: Draft) -> None:
    name = request.query.get("f", INBOX)
    try:
        uid = int(request.query.get("uid", ""))
    except ValueError:
        raise web.HTTPBadRequest(text="Which message? (uid)\n") from None
    folder = await open_folder(await mailbox_of(request, user.name), name)
    data = await read_message(folder, uid)
    message = mime.parse(data)
    shown = mime.render(data)
    subject = shown.subject
    text = shown.text if shown.text is not None else _html_as_text(shown.html or "")
    draft.source_folder, draft.source_uid = name, uid
    if draft.mode == "draft":
        draft.to, draft.cc, draft.bcc = shown.to, shown.cc, mime.header(message, "Bcc")
        draft.subject, draft.body = subject, text
        draft.in_reply_to = mime.header(message, "In-Reply-To")
        draft.references = mime.header(message, "References")
        draft.draft_uid = uid
        draft.draft_attachments = shown.attachments
        return
    if draft.mode == "forward":
        draft.subject = subject if subject.lower().startswith("fwd:") else f"Fwd: {subject}"
        draft.body = (
            f"\n\n-------- Forwarded message --------\nSubject: {subject}\n"
            f"Date: {shown.date}\nFrom: {shown.sender}\nTo: {shown.to}\n\n{text}"
        )
        return
    reply_to = mime.header(message, "Reply-To") or shown.sender
    draft.to = reply_to
    if draft.mode == "replyall":
        me = own_address(request, user.name).lower()
        others = [
            email.utils.formataddr(pair)
            for pair in mime.addresses(shown.to, shown.cc)
            if pair[1].lower() != me and pair[1].lower().split("@")[0] != user.name
        ]
        draft.cc = ", ".join(others)
    draft.subject = subject if subject.lower().startswith("re:") else f"Re: {subject}"
    draft.body = mime.reply_quote(text, shown.sender, shown.date)
    draft.in_reply_to = shown.message_id
    references = mime.header(message, "References")
    draft.references = f"{references} {shown.message_id}".strip()


def _html_as_text(html: str) -> str:
    return " ".join(nh3.clean(html, tags=set()).split())


def _read_form(form: MultiDictProxy[str | bytes | bytearray | web.FileField]) -> Draft:
    def text(name: str, limit: int = MAX_FIELD) -> str:
        value = form.get(name, "")
        return value[:limit] if isinstance(value, str) else ""

    def line(name: str, limit: int = MAX_FIELD) -> str:
        """A header's value: line breaks (header injection) become spaces."""
        return " ".join(text(name, limit).split())

    def number(name: str) -> int:
        value = text(name)
        return int(value) if value.isdigit() else 0

    return Draft(
        to=line("to"),
        cc=line("cc"),
        bcc=line("bcc"),
        subject=line("subject", 2000),
        body=text("body", MAX_BODY).replace("\r\n", "\n"),
        in_reply_to=line("in_reply_to", 2000),
        references=line("references", 8000),
        source_folder=text("source_folder", 1000),
        source_uid=number("source_uid"),
        mode=text("mode", 20) or "new",
        draft_uid=number("draft_uid"),
    )


def build_message(
    request: web.Request,
    user: str,
    draft: Draft,
    files: list[web.FileField],
    carried: list[Carried],
) -> EmailMessage:
    """The message as it will be stored and sent (without Bcc unless it is a draft)."""
    config = request.app[SERVICES].config
    message = EmailMessage(policy=WIRE_POLICY)
    message["From"] = own_address(request, user)
    for name, value in (("To", draft.to), ("Cc", draft.cc)):
        if value.strip():
            message[name] = value
    message["Subject"] = draft.subject
    message["Date"] = email.utils.formatdate(localtime=True)
    message["Message-ID"] = email.utils.make_msgid(domain=config.hostname)
    if draft.in_reply_to:
        message["In-Reply-To"] = draft.in_reply_to
    if draft.references:
        message["References"] = draft.references
    message["User-Agent"] = "mailserver webmail"
    message.set_content(draft.body, charset="utf-8")
    for upload in files:
        content = upload.file.read()
        maintype, _, subtype = (upload.content_type or "application/octet-stream").partition("/")
        if not subtype or maintype == "multipart":
            maintype, subtype = "application", "octet-stream"
        message.add_attachment(
            content, maintype=maintype, subtype=subtype, filename=upload.filename or "attachment"
        )
    for item in carried:
        maintype, _, subtype = item.content_type.partition("/")
        if maintype in ("multipart", "message") or not subtype:
            maintype, subtype = "application", "octet-stream"
        message.add_attachment(
            item.content, maintype=maintype, subtype=subtype, filename=item.filename
        )
    return message


def _recipients(request: web.Request, draft: Draft) -> tuple[list[Recipient], list[str]]:
    """Every To/Cc/Bcc address with its local account (None: relayed), and the refused ones."""
    services = request.app[SERVICES]
    config = services.config
    result: list[Recipient] = []
    errors: list[str] = []
    seen: set[str] = set()
    for _name, address in email.utils.getaddresses([draft.to, draft.cc, draft.bcc]):
        address = address.strip()
        if not address or address.lower() in seen:
            continue
        seen.add(address.lower())
        # The RCPT check of an authenticated submission client: local accounts
        # and aliases, postmaster, and relaying to other domains.
        decided = recipient(services, address, authenticated=True)
        if isinstance(decided, Recipient):
            result.append(decided)
        else:
            errors.append(f"{address}: {decided}")
    if len(result) > config.limits.max_recipients:
        errors.append(f"at most {config.limits.max_recipients} recipients per message")
    return result, errors


async def compose_submit(request: web.Request) -> web.StreamResponse:
    user = require_user(request)
    form = await request.post()
    draft = _read_form(form)
    files = [
        item
        for item in form.getall("attachment", [])
        if isinstance(item, web.FileField) and item.filename
    ][:MAX_ATTACHMENTS]
    mailbox = await mailbox_of(request, user.name)
    carried = await _carried(mailbox, draft, form.getall("keep_part", []))
    action = form.get("action", "send")
    if action == "draft":
        return await _save_draft(request, user, draft, files, carried)
    recipients, errors = _recipients(request, draft)
    if not recipients and not errors:
        errors.append("Give at least one recipient.")
    if errors:
        draft.errors = errors
        return await _form(request, user, draft, status=400)
    try:
        content = build_message(request, user.name, draft, files, carried).as_bytes()
    except (ValueError, TypeError, email.errors.MessageError) as exc:
        log.info("web compose by %s: message not built: %s", user.name, exc)
        draft.errors = ["The message could not be built: check the addresses and the subject."]
        return await _form(request, user, draft, status=400)
    services = request.app[SERVICES]
    client = Client(
        helo=services.config.hostname,
        ip=request.remote or "unknown",
        protocol="HTTPS" if request.secure else "HTTP",
        description=f"web {request.remote} ({user.name})",
    )
    result = await submit(
        services,
        Submission(
            sender=own_address(request, user.name),
            recipients=tuple(recipients),
            content=content,
            client=client,
            user=user.name,
        ),
    )
    if not result.accepted:
        draft.errors = [f"Not sent: {result.reply}"]
        return await _form(request, user, draft, status=400)
    try:
        sent = await special_folder(request, mailbox, "\\Sent")
        await sent.append(content, flags=[SEEN])
    except StorageError as exc:
        # The message is on its way already; only the copy is missing.
        flash(request, f"Sent, but no copy was kept in Sent: {exc.message}")
    if draft.mode in ("reply", "replyall") and draft.source_uid:
        source = await open_folder(mailbox, draft.source_folder)
        await source.store_flags([draft.source_uid], [ANSWERED], FlagMode.ADD)
    await _drop_old_draft(request, mailbox, draft)
    flash(request, f"Message sent to {len(recipients)} recipient(s).")
    raise web.HTTPSeeOther(location="/mail/?f=" + quote(INBOX))


async def _save_draft(
    request: web.Request,
    user: WebUser,
    draft: Draft,
    files: list[web.FileField],
    carried: list[Carried],
) -> web.StreamResponse:
    mailbox = await mailbox_of(request, user.name)
    message = build_message(request, user.name, draft, files, carried)
    if draft.bcc.strip():
        message["Bcc"] = draft.bcc
    drafts = await special_folder(request, mailbox, "\\Drafts")
    uid = await drafts.append(message.as_bytes(), flags=[DRAFT, SEEN], internal_date=time.time())
    await _drop_old_draft(request, mailbox, draft)
    flash(request, f"Draft saved in {drafts.name}.")
    raise web.HTTPSeeOther(
        location=f"/mail/compose?mode=draft&f={quote(drafts.name, safe='')}&uid={uid}"
    )


async def _carried(mailbox: Mailbox, draft: Draft, keep: Sequence[object]) -> list[Carried]:
    """The forwarded original, or the attachments of the draft the user chose to keep."""
    if draft.mode == "forward" and draft.source_uid:
        source = await open_folder(mailbox, draft.source_folder)
        original = await read_message(source, draft.source_uid)
        return [Carried("forwarded.eml", "application/octet-stream", original)]
    if not draft.draft_uid or not keep:
        return []
    source = await open_folder(mailbox, draft.source_folder)
    data = await read_message(source, draft.draft_uid)
    result = []
    for value in keep[:MAX_ATTACHMENTS]:
        if not (isinstance(value, str) and value.isdigit()):
            continue
        found = mime.part_bytes(data, int(value))
        if found is None or found[0].is_multipart():
            continue
        part, content = found
        name = mime.safe_filename(part, int(value))
        result.append(Carried(name, part.get_content_type(), content))
    return result


async def _drop_old_draft(request: web.Request, mailbox: Mailbox, draft: Draft) -> None:
    """The draft this form was opened from is replaced by what was just saved or sent."""
    if not draft.draft_uid:
        return
    drafts = await special_folder(request, mailbox, "\\Drafts")
    if draft.source_folder and draft.source_folder != drafts.name:
        return
    await drafts.store_flags([draft.draft_uid], [DELETED], FlagMode.ADD)
    await drafts.expunge([draft.draft_uid])
