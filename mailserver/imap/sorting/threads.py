"""THREAD=ORDEREDSUBJECT and THREAD=REFERENCES (RFC 5256 3), and the response syntax.

A thread is a tree of :class:`Node`; a node without a message is a dummy
(a message referred to but not among those threaded). Sent dates and base
subjects come from :mod:`facts`; ties keep sequence-number order.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

from mailserver.imap.sorting.facts import Facts
from mailserver.imap.sorting.order import unicode_casemap


@dataclass(eq=False)
class Node:
    facts: Facts | None = None
    parent: Node | None = None
    children: list[Node] = field(default_factory=list)

    def first_message(self) -> Facts | None:
        """This node's message, or for a dummy that of its first child (recursively)."""
        if self.facts is not None:
            return self.facts
        for child in self.children:
            found = child.first_message()
            if found is not None:
                return found
        return None

    def sort_key(self) -> tuple[float, int]:
        facts = self.first_message()
        return (facts.sent, facts.seq) if facts is not None else (0.0, 0)

    def is_ancestor_of(self, other: Node) -> bool:
        node: Node | None = other
        while node is not None:
            if node is self:
                return True
            node = node.parent
        return False

    def add_child(self, child: Node) -> None:
        if child.parent is not None:
            child.parent.children.remove(child)
        child.parent = self
        self.children.append(child)


# ------------------------------------------------------------ ORDEREDSUBJECT


def ordered_subject(facts: Sequence[Facts]) -> list[Node]:
    """RFC 5256 3: sort by base subject then sent date; each subject is one thread
    whose first message is the parent of all the others."""
    ordered = sorted(facts, key=lambda f: (unicode_casemap(f.subject), f.sent, f.seq))
    threads: list[Node] = []
    current: Node | None = None
    for item in ordered:
        head = current.facts if current is not None else None
        if current is not None and head is not None and _same(head.subject, item.subject):
            current.add_child(Node(item))
            continue
        current = Node(item)
        threads.append(current)
    threads.sort(key=Node.sort_key)
    return threads


def _same(a: str, b: str) -> bool:
    return unicode_casemap(a) == unicode_casemap(b)


# ---------------------------------------------------------------- REFERENCES


def refs(facts: Sequence[Facts]) -> list[Node]:
    """THREAD=REFS (draft-ietf-morg-inthread, as Dovecot): REFERENCES without the
    grouping by subject, threads ordered by their newest message."""
    roots = references(facts, by_subject=False)
    # Ties on the newest date go by the thread's own (first) message, as in Dovecot.
    order = {id(r): (max(n.sort_key()[0] for n in _walk([r])), r.sort_key()[1]) for r in roots}
    roots.sort(key=lambda root: order[id(root)])
    return roots


def references(facts: Sequence[Facts], by_subject: bool = True) -> list[Node]:
    """RFC 5256 3, steps 1 to 7 (Zawinski's algorithm as the RFC spells it)."""
    table: dict[str, Node] = {}
    unique = 0

    def container(message_id: str) -> Node:
        node = table.get(message_id)
        if node is None:
            node = table[message_id] = Node()
        return node

    for item in sorted(facts, key=lambda f: f.seq):
        # (1A) the message's own container; a duplicate or missing Message-ID gets a unique one.
        own = table.get(item.message_id) if item.message_id else None
        if own is None or own.facts is not None:
            key = item.message_id if own is None and item.message_id else f"\0{unique}"
            unique += 1
            own = container(key)
        own.facts = item
        # (1B) link the references in order, never making a loop.
        previous: Node | None = None
        for ref in item.references:
            node = container(ref)
            if previous is not None and node.parent is None and not node.is_ancestor_of(previous):
                previous.add_child(node)
            previous = node
        # (1C) the last reference is the parent, replacing any parent the message had.
        if previous is not None and previous is not own and not own.is_ancestor_of(previous):
            previous.add_child(own)
        elif previous is None and own.parent is not None:
            own.parent.children.remove(own)
            own.parent = None
    # (2) root set, (4) dummies pruned.
    roots = [node for node in table.values() if node.parent is None]
    roots = _prune(roots)
    for root in roots:
        root.parent = None
    # (5) sort the root set by sent date, (6) merge threads with the same base subject.
    roots.sort(key=Node.sort_key)
    if by_subject:
        roots = _group_by_subject(roots)
    # (7) sort every level.
    _sort_tree(roots)
    return roots


def _walk(roots: list[Node]) -> list[Node]:
    """Every node below ``roots``, parents before children (no recursion: reply
    chains thousands deep are a few hostile messages away)."""
    out: list[Node] = []
    stack = list(roots)
    while stack:
        node = stack.pop()
        out.append(node)
        stack.extend(node.children)
    return out


def _prune(roots: list[Node]) -> list[Node]:
    """Step 4: empty dummies go; a dummy's children take its place (at the root
    only when it has one child)."""
    for node in reversed(_walk(roots)):  # children before their parents
        kept: list[Node] = []
        for child in node.children:
            if child.facts is None:
                kept.extend(child.children)
            else:
                kept.append(child)
        node.children = kept
        for child in kept:
            child.parent = node
    out: list[Node] = []
    for root in roots:
        if root.facts is None and len(root.children) <= 1:
            out.extend(root.children)
        else:
            out.append(root)
    return out


def _group_by_subject(roots: list[Node]) -> list[Node]:
    """Step 6: threads whose (first) messages share a base subject become one."""

    def subject_of(node: Node) -> str | None:
        facts = node.first_message()
        if facts is None or not facts.subject:
            return None
        return unicode_casemap(facts.subject)

    def is_reply(node: Node) -> bool:
        return node.facts is not None and node.facts.reply

    # (6B) per subject one thread: a dummy over a message, an original over a reply.
    table: dict[str, Node] = {}
    for root in roots:
        subject = subject_of(root)
        if subject is None:
            continue
        old = table.get(subject)
        if old is None or (
            old.facts is not None and (root.facts is None or (is_reply(old) and not is_reply(root)))
        ):
            table[subject] = root
    # (6C) merge every other thread into the table's one.
    out = list(roots)
    for root in roots:
        subject = subject_of(root)
        if subject is None or table[subject] is root:
            continue
        target = table[subject]
        out.remove(root)
        if target.facts is None and root.facts is None:
            for child in list(root.children):
                target.add_child(child)
        elif target.facts is None or (not is_reply(target) and is_reply(root)):
            target.add_child(root)
        else:
            dummy = Node()
            out[out.index(target)] = dummy
            dummy.add_child(target)
            dummy.add_child(root)
            table[subject] = dummy
    return out


def _sort_tree(roots: list[Node]) -> None:
    """Step 7: siblings by sent date; below the root every node is a message, so
    only the root set's dummies depend on their (already sorted) children."""
    for node in _walk(roots):
        node.children.sort(key=Node.sort_key)
    roots.sort(key=Node.sort_key)


# ------------------------------------------------------------------ output


def render(threads: Sequence[Node], number: Callable[[Facts], int]) -> bytes:
    """``* THREAD`` data (RFC 5256 4): ``(1 2 (3)(4 5))``; a dummy has no number."""
    return b"".join(b"(" + _render(node, number).encode() + b")" for node in threads)


def _render(root: Node, number: Callable[[Facts], int]) -> str:
    """One thread without its outer parentheses; an explicit stack, not recursion."""
    parts: list[str] = []
    stack: list[Node | str] = [root]
    while stack:
        top = stack.pop()
        if isinstance(top, str):
            parts.append(top)
            continue
        if top.facts is not None:
            parts.append(str(number(top.facts)))
            if len(top.children) == 1:
                stack += [top.children[0], " "]  # a chain: "1 2 3"
                continue
            if top.children:
                parts.append(" ")
        for child in reversed(top.children):
            stack += [")", child, "("]
    return "".join(parts)
