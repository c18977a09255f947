"""Bounded memos of the pure, per-field steps of ENVELOPE and BODYSTRUCTURE.

A cold ``FETCH 1:* (ENVELOPE BODYSTRUCTURE)`` of a big folder spends most of
its time parsing the same few header values again and again: a mailbox holds
thousands of ``Content-Type: text/plain; charset=utf-8`` lines and the same
correspondents in ``From:`` and ``To:``. Each step memoised here is a pure
function of one short value (a ``str`` or a tuple of them) returning an
immutable result, so a hit answers exactly what a fresh computation would:
not one byte of a response changes.

Bounds: keys longer than :data:`MAX_KEY` characters and results longer than
:data:`MAX_VALUE` octets are never stored (they are rare and would cost
memory), and a memo holding :data:`MAX_ITEMS` entries is emptied and starts
over -- simpler than an LRU, and with every operation a single dict access
it is safe when a worker thread parses a big message at the same time as
the event loop.
"""

from __future__ import annotations

from collections.abc import Callable, Hashable
from typing import Any, Final, Generic, TypeVar

from mailserver.imap import wire
from mailserver.imap.mime.addresses import Address, parse_address_list
from mailserver.imap.mime.headers import Field, ParamValue, parse_fields, parse_param_value

#: Entries per memo before it is emptied.
MAX_ITEMS: Final = 2048
#: Longest key (in characters) that is memoised.
MAX_KEY: Final = 256
#: Longest rendered result (in octets) that is memoised: 256 characters of
#: commas can render as kilobytes of empty addresses. With these bounds a
#: memo holds at most about 2,048 x 1.5 KB = 3 MB however hostile the mail,
#: and typically a few hundred KB.
MAX_VALUE: Final = 1024

K = TypeVar("K", bound=Hashable)
V = TypeVar("V")

NIL: Final = b"NIL"

#: Every memo created, so tests can switch them all off for a reference parse.
REGISTRY: Final[list[Memo[Any, Any]]] = []


class Memo(Generic[K, V]):
    """``func(key)``, remembered for short keys (and short ``bytes`` results).

    ``size`` measures a key. Create memos at module level only: each one is
    added to :data:`REGISTRY` for good.
    """

    __slots__ = ("_func", "_items", "_size", "max_items", "max_key")

    def __init__(
        self,
        func: Callable[[K], V],
        size: Callable[[K], int] = len,  # type: ignore[assignment]
        max_items: int = MAX_ITEMS,
        max_key: int = MAX_KEY,
    ) -> None:
        self._func = func
        REGISTRY.append(self)
        self._size = size
        self._items: dict[K, V] = {}
        self.max_items = max_items
        self.max_key = max_key

    def __call__(self, key: K) -> V:
        items = self._items
        try:
            return items[key]
        except KeyError:
            pass
        value = self._func(key)
        if self._size(key) <= self.max_key and not (
            isinstance(value, bytes) and len(value) > MAX_VALUE
        ):
            if len(items) >= self.max_items:
                items = self._items = {}
            items[key] = value
        return value

    def __len__(self) -> int:
        return len(self._items)

    def clear(self) -> None:
        self._items = {}


def _render_addresses(value: str) -> bytes:
    """An unfolded address header -> its ENVELOPE address list (``NIL`` when empty)."""
    addresses = parse_address_list(value)
    if not addresses:
        return NIL
    return b"(" + b"".join(_address(a) for a in addresses) + b")"


def _address(a: Address) -> bytes:
    return b"(%s %s %s %s)" % (
        wire.nstring(a.name),
        wire.nstring(a.adl),
        wire.nstring(a.mailbox),
        wire.nstring(a.host),
    )


def _render_upper(text: str) -> bytes:
    return wire.string(text.upper())


def _params_size(params: tuple[tuple[str, str], ...]) -> int:
    return sum(len(name) + len(value) for name, value in params)


def _params_key_size(key: tuple[tuple[tuple[str, str], ...], bool]) -> int:
    return _params_size(key[0])


def _render_params(key: tuple[tuple[tuple[str, str], ...], bool]) -> bytes:
    params, default_charset = key
    items = [wire.string(name.upper()) + b" " + wire.string(value) for name, value in params]
    if default_charset and not any(name.lower() == "charset" for name, _ in params):
        items.append(b'"CHARSET" "US-ASCII"')
    if not items:
        return NIL
    return b"(" + b" ".join(items) + b")"


def _part_fields(key: tuple[bytes, frozenset[bytes] | None]) -> tuple[Field, ...]:
    return tuple(parse_fields(key[0], key[1]))


def _part_fields_size(key: tuple[bytes, frozenset[bytes] | None]) -> int:
    return len(key[0])


#: (header block of a MIME part, field filter) -> its fields, as
#: :func:`~mailserver.imap.mime.headers.parse_fields` splits them. Part headers
#: repeat across a mailbox (``Content-Type: text/plain; charset=utf-8`` and
#: the like in every multipart/alternative); a part cost about 6 us of a
#: message's parse, its header block a good share of it. Fields are immutable
#: by convention, so the same objects can serve every hit.
part_fields: Final[Memo[tuple[bytes, frozenset[bytes] | None], tuple[Field, ...]]] = Memo(
    _part_fields, size=_part_fields_size
)
#: ``Content-Type``-like value -> :class:`ParamValue` (frozen, so hits can be shared).
param_value: Final[Memo[str, ParamValue]] = Memo(parse_param_value)
#: Unfolded ``From``/``To``/... value -> rendered ENVELOPE address list.
address_list: Final[Memo[str, bytes]] = Memo(_render_addresses)
#: Type, subtype, encoding, disposition -> upper-cased IMAP string.
upper: Final[Memo[str, bytes]] = Memo(_render_upper)
#: (parameters, add the default charset) -> rendered BODYSTRUCTURE parameter list.
params: Final[Memo[tuple[tuple[tuple[str, str], ...], bool], bytes]] = Memo(
    _render_params, size=_params_key_size
)
