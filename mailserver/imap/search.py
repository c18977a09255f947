"""SEARCH evaluation (RFC 3501 6.4.4) over the selected view.

Cheap criteria (flags, numbers, sizes, internal dates) are decided from the
store snapshot; only header, body and sent-date criteria need the message,
and those go through the MIME cache so each message is parsed at most once.
``And`` evaluates its cheap members first so most messages never get read.
"""

from __future__ import annotations

import datetime
import time
from dataclasses import dataclass, field

from mailserver.imap.mime import MessageCache, ParsedMessage
from mailserver.imap.objectid import email_id
from mailserver.imap.parser.search_keys import (
    AgeKey,
    All,
    And,
    BodyKey,
    DateKey,
    HasFlag,
    HeaderKey,
    InSet,
    ModSeqKey,
    Not,
    ObjectIdKey,
    Or,
    Recent,
    SearchKey,
    SizeKey,
    TextKey,
)
from mailserver.imap.view import SelectedView
from mailserver.storage import MessageInfo

_EXPENSIVE = (HeaderKey, BodyKey, TextKey, ObjectIdKey)


@dataclass
class _Candidate:
    seq: int
    info: MessageInfo
    parsed: ParsedMessage | None = field(default=None)


class SearchEvaluator:
    def __init__(self, view: SelectedView) -> None:
        self.view = view
        self.cache = MessageCache.for_folder(view.folder)
        #: One "now" per search, so OLDER/YOUNGER agree across the messages.
        self.now = time.time()

    async def run(self, key: SearchKey) -> list[int]:
        """Matching UIDs in sequence order (messages expunged elsewhere never match)."""
        ordered = _cheap_first(key)
        result = []
        for seq, uid in enumerate(list(self.view.uids), 1):
            info = self.view.info(uid)
            if info is not None and await self.matches(ordered, _Candidate(seq, info)):
                result.append(uid)
        return result

    async def matches(self, key: SearchKey, c: _Candidate) -> bool:
        view = self.view
        if isinstance(key, All):
            return True
        if isinstance(key, HasFlag):
            wanted = key.flag.lower()
            has = any(flag.lower() == wanted for flag in c.info.flags)
            return has == key.present
        if isinstance(key, Recent):
            return c.info.uid in view.recent
        if isinstance(key, InSet):
            if key.sequence.saved:
                return c.info.uid in view.saved_result
            if key.uid:
                return key.sequence.contains(c.info.uid, view.max_uid())
            return key.sequence.contains(c.seq, view.exists)
        if isinstance(key, ModSeqKey):
            return c.info.modseq >= key.modseq
        if isinstance(key, AgeKey):
            age = self.now - c.info.internal_date
            return age >= key.seconds if key.older else age < key.seconds
        if isinstance(key, SizeKey):
            return c.info.size > key.size if key.larger else c.info.size < key.size
        if isinstance(key, DateKey):
            day = await self._date(key, c)
            if day is None:
                return False
            if key.op == "before":
                return day < key.date
            if key.op == "on":
                return day == key.date
            return day >= key.date
        if isinstance(key, HeaderKey):
            return await self.cache.contains_header(view.folder, c.info, key.field, key.needle)
        if isinstance(key, BodyKey):
            return await self.cache.contains_body(view.folder, c.info, key.needle)
        if isinstance(key, TextKey):
            return await self.cache.contains_text(view.folder, c.info, key.needle)
        if isinstance(key, ObjectIdKey):
            if key.kind == "THREADID":
                return False  # we keep no THREADIDs (FETCH says NIL)
            parsed = await self.cache.structure(view.folder, c.info)
            return email_id(parsed) == key.value
        if isinstance(key, Not):
            return not await self.matches(key.key, c)
        if isinstance(key, Or):
            return await self.matches(key.left, c) or await self.matches(key.right, c)
        for sub in key.keys:
            if not await self.matches(sub, c):
                return False
        return True

    async def _date(self, key: DateKey, c: _Candidate) -> datetime.date | None:
        if key.saved:
            saved = c.info.save_date
            return datetime.date.fromtimestamp(saved if saved is not None else c.info.internal_date)
        if not key.sent:
            # "disregarding time and timezone": the server's local calendar day.
            return datetime.date.fromtimestamp(c.info.internal_date)
        if c.parsed is None:
            c.parsed = await self.cache.structure(self.view.folder, c.info)
        sent = c.parsed.date()
        return sent.date() if sent is not None else None


def _cheap_first(key: SearchKey) -> SearchKey:
    """Reorder ``And`` members so criteria needing the message body run last."""
    if isinstance(key, And):
        members = [_cheap_first(k) for k in key.keys]
        members.sort(key=lambda k: _is_expensive(k))
        return And(tuple(members))
    if isinstance(key, Not):
        return Not(_cheap_first(key.key))
    if isinstance(key, Or):
        return Or(_cheap_first(key.left), _cheap_first(key.right))
    return key


def _is_expensive(key: SearchKey) -> bool:
    if isinstance(key, _EXPENSIVE):
        return True
    if isinstance(key, DateKey):
        return key.sent
    if isinstance(key, Not):
        return _is_expensive(key.key)
    if isinstance(key, Or):
        return _is_expensive(key.left) or _is_expensive(key.right)
    if isinstance(key, And):
        return any(_is_expensive(k) for k in key.keys)
    return False
