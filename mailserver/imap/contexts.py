"""CONTEXT=SEARCH and CONTEXT=SORT (RFC 5267 4.3): results that keep themselves current.

A SEARCH or SORT with ``RETURN (UPDATE)`` leaves a context on the selected
view. After every refresh of the view (after each command, and while
idling) the view calls its watcher, :class:`Contexts`, which re-runs each
context's search once the folder changed and reports the difference as an
unsolicited ``* ESEARCH (TAG "t") ADDTO (...) REMOVEFROM (...)``. As in
Dovecot, a SEARCH context's position is always 0 (its results have no
order); a SORT context names the position in sort order. Contexts end with
the selection (a new view has none) or with CANCELUPDATE.

Messages expunged and already announced with EXPUNGE are not repeated in a
REMOVEFROM of a sequence-number context: the client dropped them when it
renumbered.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from mailserver.imap import wire
from mailserver.imap.errors import bad
from mailserver.imap.parser.search_keys import SearchKey
from mailserver.imap.response_codes import uid_set
from mailserver.imap.search import SearchEvaluator
from mailserver.imap.sorting.facts import gather
from mailserver.imap.sorting.order import sort_facts
from mailserver.imap.view import SelectedView

#: Updating contexts one session may hold (RFC 5267 4.3.1 asks for at least one);
#: each costs a re-run of its search whenever the folder changes.
MAX_CONTEXTS = 4

Criteria = tuple[tuple[str, bool], ...]


@dataclass
class Context:
    tag: str
    uid: bool
    key: SearchKey
    #: Sort criteria; None for a SEARCH context.
    criteria: Criteria | None
    #: The results the client holds, as UIDs in context order.
    results: list[int]
    #: Snapshot version they were computed from.
    version: int


async def evaluate(view: SelectedView, key: SearchKey, criteria: Criteria | None) -> list[int]:
    """Matching UIDs in context order (ascending, or sorted by ``criteria``)."""
    uids = await SearchEvaluator(view).run(key)
    if criteria is None:
        return uids
    return [f.uid for f in sort_facts(await gather(view, uids), criteria)]


class Contexts:
    """The updating contexts of one selected view; the view's refresh watcher."""

    def __init__(self) -> None:
        self.by_tag: dict[str, Context] = {}

    async def __call__(self, view: SelectedView) -> list[bytes]:
        out: list[bytes] = []
        for context in list(self.by_tag.values()):
            if context.version == view.snapshot.version:
                continue
            new = await evaluate(view, context.key, context.criteria)
            line = _changes(view, context, new)
            context.results = new
            context.version = view.snapshot.version
            if line:
                out.append(line)
        return out


def contexts_of(view: SelectedView) -> Contexts:
    if not isinstance(view.watcher, Contexts):
        view.watcher = Contexts()
    return view.watcher


def check_tag(view: SelectedView, tag: str) -> None:
    """RFC 5267 4.3: UPDATE under a tag that still has a context is ``BAD``."""
    if isinstance(view.watcher, Contexts) and tag in view.watcher.by_tag:
        raise bad("Tag reuse")


def open_context(
    view: SelectedView,
    tag: str,
    uid: bool,
    key: SearchKey,
    criteria: Criteria | None,
    results: Sequence[int],
) -> bytes:
    """Keep the result current from now on; an untagged ``NO [NOUPDATE]`` line when
    the session already has :data:`MAX_CONTEXTS` (the command still succeeds)."""
    contexts = contexts_of(view)
    if len(contexts.by_tag) >= MAX_CONTEXTS:
        return b"* NO [NOUPDATE " + wire.quoted(tag) + b"] Too many contexts\r\n"
    contexts.by_tag[tag] = Context(tag, uid, key, criteria, list(results), view.snapshot.version)
    return b""


def cancel(view: SelectedView, tag: str) -> bool:
    contexts = view.watcher
    return isinstance(contexts, Contexts) and contexts.by_tag.pop(tag, None) is not None


def _changes(view: SelectedView, context: Context, new: list[int]) -> bytes:
    old = context.results
    old_set, new_set = set(old), set(new)

    def number(uid: int) -> int | None:
        return uid if context.uid else view.seq_of(uid)

    items: list[bytes] = []
    if context.criteria is None:
        removed = sorted(n for u in old if u not in new_set and (n := number(u)) is not None)
        added = sorted(n for u in new if u not in old_set and (n := number(u)) is not None)
        if removed:
            items.append(b"REMOVEFROM (0 " + uid_set(removed).encode() + b")")
        if added:
            items.append(b"ADDTO (0 " + uid_set(added).encode() + b")")
    else:
        # Removals from the end, so earlier positions stay right as the client
        # applies them in order; then insertions at their final positions, ascending.
        for position in range(len(old), 0, -1):
            uid = old[position - 1]
            if uid not in new_set and (n := number(uid)) is not None:
                items.append(b"REMOVEFROM (%d %d)" % (position, n))
        for position, uid in enumerate(new, 1):
            if uid not in old_set and (n := number(uid)) is not None:
                items.append(b"ADDTO (%d %d)" % (position, n))
    if not items:
        return b""
    head = b"* ESEARCH (TAG " + wire.quoted(context.tag) + b")" + (b" UID" if context.uid else b"")
    return head + b" " + b" ".join(items) + b"\r\n"
