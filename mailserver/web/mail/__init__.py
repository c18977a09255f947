"""Webmail: folders, message list, reading, composing; everything through the shared store.

Routes (all need a logged-in account; each reaches only that account's mailbox):

========================  ====  ===========================================
``/mail/``                GET   message list of ``?f=FOLDER`` (``&q=`` search, ``&page=``)
``/mail/message``         GET   one message (``?f=&uid=``); sets ``\\Seen``
``/mail/message/body``    GET   its HTML body, sanitised, for a sandboxed iframe
``/mail/message/part``    GET   an attachment as a download (``&part=N``)
``/mail/message/raw``     GET   the source as stored (``&download=1`` for a file)
``/mail/action``          POST  read, unread, flag, unflag, move, delete
``/mail/empty-trash``     POST  delete everything in Trash
``/mail/compose``         GET   new / reply / reply-all / forward / draft form
``/mail/compose``         POST  send (the submission path) or save as draft
========================  ====  ===========================================
"""

from __future__ import annotations

from pathlib import Path

from aiohttp import web

from mailserver.web.app import add_nav
from mailserver.web.mail import actions, compose, listing, reading
from mailserver.web.templates import add_template_dir


def setup(app: web.Application) -> None:
    add_nav(app, "Mail", "/mail/")
    add_nav(app, "Write", "/mail/compose")
    add_template_dir(app, Path(__file__).parent / "templates")
    router = app.router
    router.add_get("/mail/", listing.message_list)
    router.add_get("/mail/message", reading.message_page)
    router.add_get("/mail/message/body", reading.message_body)
    router.add_get("/mail/message/part", reading.attachment)
    router.add_get("/mail/message/raw", reading.raw_source)
    router.add_post("/mail/action", actions.message_action)
    router.add_post("/mail/empty-trash", actions.empty_trash)
    router.add_get("/mail/compose", compose.compose_form)
    router.add_post("/mail/compose", compose.compose_submit)
