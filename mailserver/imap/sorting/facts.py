"""What SORT and THREAD need of each message, read once from its parsed header.

Everything comes from the MIME cache's parsed header (no body is read) and
the store's message data (size, arrival time), so sorting a folder that
was searched or fetched before costs no disk reads.
"""

from __future__ import annotations

import dataclasses
import re
from collections import OrderedDict
from collections.abc import Iterable, Iterator
from dataclasses import dataclass

from mailserver.imap.mime import MessageCache, ParsedMessage
from mailserver.imap.mime.addresses import MISSING_DOMAIN, MISSING_MAILBOX, parse_address_list
from mailserver.imap.mime.headers import Field, decode_header_text, first
from mailserver.imap.sorting.basesubject import base_subject
from mailserver.imap.view import SelectedView
from mailserver.storage import MessageInfo

_MSG_ID = re.compile(r"<([^<>]+)>")
_BLANKS = re.compile(r"\s+")


@dataclass(frozen=True, slots=True)
class Facts:
    seq: int
    uid: int
    size: int
    arrival: float
    #: RFC 5256: the Date header in UTC seconds, else the arrival time.
    sent: float
    subject: str
    reply: bool
    #: addr-mailbox of the first address (RFC 5256 FROM / TO / CC).
    from_: str
    to: str
    cc: str
    #: RFC 5957: display name of the first address, else its addr-spec.
    display_from: str
    display_to: str
    message_id: str | None
    #: References (or the first In-Reply-To id), oldest first.
    references: tuple[str, ...]


#: Facts by message (file key, size, arrival), sequence number left 0: they depend
#: on nothing else, so a repeated SORT or THREAD parses no header twice. Bounded
#: (oldest out first): a few hundred bytes each, so some 20 MB at most.
_KNOWN: OrderedDict[tuple[str, int, float], Facts] = OrderedDict()
MAX_KNOWN = 50_000


async def gather(view: SelectedView, uids: Iterable[int]) -> list[Facts]:
    """Facts of the given messages of the view, ``uids`` ascending (as a search
    returns them); messages expunged elsewhere are skipped."""
    cache = MessageCache.for_folder(view.folder)
    out = []
    for seq, uid in _numbered(view, uids):
        info = view.info(uid)
        if info is None:
            continue
        ident = (info.key, info.size, info.internal_date)
        known = _KNOWN.get(ident)
        if known is None or known.uid != uid:
            known = facts_of(0, info, await cache.structure(view.folder, info))
            _KNOWN[ident] = known
            if len(_KNOWN) > MAX_KNOWN:
                _KNOWN.popitem(last=False)
        out.append(dataclasses.replace(known, seq=seq))
    return out


def _numbered(view: SelectedView, uids: Iterable[int]) -> Iterator[tuple[int, int]]:
    """(sequence number, UID) for the UIDs in the view, in one merge walk (UIDs ascend)."""
    index = 0
    numbers = view.uids
    for uid in uids:
        while index < len(numbers) and numbers[index] < uid:
            index += 1
        if index < len(numbers) and numbers[index] == uid:
            yield index + 1, uid


def facts_of(seq: int, info: MessageInfo, parsed: ParsedMessage) -> Facts:
    fields = parsed.fields
    sent = parsed.date()
    subject = first(fields, "Subject")
    base, reply = base_subject(subject.unfolded() if subject is not None else None)
    from_ = _first_address(fields, "From")
    to = _first_address(fields, "To")
    return Facts(
        seq=seq,
        uid=info.uid,
        size=info.size,
        arrival=info.internal_date,
        sent=sent.timestamp() if sent is not None else info.internal_date,
        subject=base,
        reply=reply,
        from_=from_[0],
        to=to[0],
        cc=_first_address(fields, "Cc")[0],
        display_from=from_[1],
        display_to=to[1],
        message_id=next(iter(_ids(fields, "Message-ID")), None),
        references=_references(fields),
    )


def _first_address(fields: list[Field], name: str) -> tuple[str, str]:
    """(addr-mailbox, display form) of the first real address in field ``name``."""
    found = first(fields, name)
    if found is None:
        return "", ""
    for address in parse_address_list(found.unfolded()):
        if address.host is None:
            continue  # group markers
        mailbox = "" if address.mailbox == MISSING_MAILBOX else address.mailbox or ""
        host = "" if address.host == MISSING_DOMAIN else address.host
        spec = f"{mailbox}@{host}" if host else mailbox
        name = decode_header_text(address.name).strip() if address.name else ""
        return mailbox, name or spec
    return "", ""


def _ids(fields: list[Field], name: str) -> list[str]:
    found = first(fields, name)
    if found is None:
        return []
    return [_BLANKS.sub("", m) for m in _MSG_ID.findall(found.unfolded()) if m.strip()]


#: References kept per message (the last ones, nearest the message): linking each
#: costs a walk up the thread, so an endless header must not cost endless time.
MAX_REFERENCES = 256


def _references(fields: list[Field]) -> tuple[str, ...]:
    refs = _ids(fields, "References")
    if not refs:
        refs = _ids(fields, "In-Reply-To")[:1]
    return tuple(refs[-MAX_REFERENCES:])
