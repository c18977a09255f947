"""SORT / UID SORT (RFC 5256, RFC 5957 DISPLAY keys, RFC 5267 ESORT) and THREAD /
UID THREAD (RFC 5256): search, then order or thread the matches.

The search is SEARCH's own evaluator; the sort keys and threads come from
:mod:`mailserver.imap.sorting`. As for SEARCH, a MODSEQ search key adds the
highest mod-sequence of the messages reported (RFC 7162 3.1.5).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from mailserver.imap import wire
from mailserver.imap.commands.selected import view_of
from mailserver.imap.condstore import search_modseq
from mailserver.imap.contexts import check_tag, open_context
from mailserver.imap.errors import Response
from mailserver.imap.esearch import partial_item
from mailserver.imap.parser.sort import Sort, Thread
from mailserver.imap.response_codes import uid_set
from mailserver.imap.search import SearchEvaluator
from mailserver.imap.sorting import threads
from mailserver.imap.sorting.facts import Facts, gather
from mailserver.imap.sorting.order import sort_facts

if TYPE_CHECKING:
    from mailserver.imap.session import ImapSession


async def sort(session: ImapSession, command: Sort) -> Response:
    view = view_of(session)
    updating = command.returns is not None and "UPDATE" in command.returns
    if updating:
        check_tag(view, command.tag)
    uids = await SearchEvaluator(view).run(command.key)
    ordered = sort_facts(await gather(view, uids), command.criteria)
    numbers = [f.uid if command.uid else f.seq for f in ordered]
    if updating:
        results = [f.uid for f in ordered]
        criteria = command.criteria
        await session.send(
            open_context(view, command.tag, command.uid, command.key, criteria, results)
        )
    if command.returns is not None:
        reported = _esort_reported(command.returns, ordered)
        modseq = search_modseq(session, command.key, reported)
        if "SAVE" in command.returns:
            view.saved_result = frozenset(reported)  # RFC 5182: a set, the order is not kept
        if command.returns != ("SAVE",):
            await session.send(esort_response(command, numbers, modseq))
    else:
        modseq = search_modseq(session, command.key, uids)
        line = b"* SORT" + b"".join(b" %d" % n for n in numbers)
        if modseq is not None:
            line += b" (MODSEQ %d)" % modseq
        await session.send(line + b"\r\n")
    return Response("OK", f"{command.name} completed")


def _esort_reported(returns: tuple[str, ...], ordered: list[Facts]) -> list[int]:
    """UIDs whose MODSEQ counts: only the first/last sorted with MIN/MAX alone."""
    wanted = set(returns)
    if not ordered or not wanted & {"MIN", "MAX"} or wanted & {"ALL", "COUNT"}:
        return [f.uid for f in ordered]
    picked = {"MIN": ordered[0].uid, "MAX": ordered[-1].uid}
    return [uid for option, uid in picked.items() if option in returns]


def esort_response(command: Sort, numbers: list[int], modseq: int | None) -> bytes:
    """``* ESEARCH`` for SORT RETURN (RFC 5267 3.2): MIN is the first message in sort
    order, MAX the last, ALL lists them in sort order (runs only where ascending)."""
    wanted = set(command.returns or ("ALL",))
    parts = [b"* ESEARCH (TAG " + wire.quoted(command.tag) + b")"]
    if command.uid:
        parts.append(b"UID")
    if numbers and "MIN" in wanted:
        parts.append(b"MIN %d" % numbers[0])
    if numbers and "MAX" in wanted:
        parts.append(b"MAX %d" % numbers[-1])
    # Dovecot's order: the numbers (ALL, PARTIAL) before COUNT.
    if numbers and "ALL" in wanted:
        parts.append(b"ALL " + uid_set(numbers).encode())
    if "PARTIAL" in wanted:
        parts.append(partial_item(command.partial, numbers))
    if "COUNT" in wanted:
        parts.append(b"COUNT %d" % len(numbers))
    if modseq is not None:
        parts.append(b"MODSEQ %d" % modseq)
    return b" ".join(parts) + b"\r\n"


async def thread(session: ImapSession, command: Thread) -> Response:
    view = view_of(session)
    uids = await SearchEvaluator(view).run(command.key)
    facts = await gather(view, uids)
    if command.algorithm == "ORDEREDSUBJECT":
        roots = threads.ordered_subject(facts)
    elif command.algorithm == "REFS":
        roots = threads.refs(facts)
    else:
        roots = threads.references(facts)
    search_modseq(session, command.key, uids)  # a MODSEQ key still enables CONDSTORE

    def number(f: Facts) -> int:
        return f.uid if command.uid else f.seq

    data = threads.render(roots, number)
    await session.send(b"* THREAD" + (b" " + data if data else b"") + b"\r\n")
    return Response("OK", f"{command.name} completed")
