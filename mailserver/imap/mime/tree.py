"""The slim part tree kept per message: offsets plus what SEARCH needs to decode.

It is what survives in the cache (and the on-disk sidecar) after parsing;
the rich :class:`~mailserver.imap.mime.structure.Part` with every header
field is dropped once ENVELOPE and BODYSTRUCTURE are rendered.
"""

from __future__ import annotations

from json.encoder import encode_basestring_ascii
from typing import Any

from mailserver.imap.mime.structure import ENCAPSULATED, Part


class Node:
    """One part: immutable by convention, compared and hashed by value.

    A plain class rather than a frozen dataclass so that, compiled with
    mypyc (``mailserver/native.py``), building one is native code.
    """

    __slots__ = (
        "body_end",
        "body_start",
        "charset",
        "children",
        "encoding",
        "header_start",
        "message",
        "mime",
    )

    def __init__(
        self,
        header_start: int,
        body_start: int,
        body_end: int,
        mime: str,
        charset: str | None,
        encoding: str,
        children: tuple[Node, ...] = (),
        message: Node | None = None,
    ) -> None:
        self.header_start = header_start
        self.body_start = body_start
        self.body_end = body_end
        #: ``type/subtype`` in lower case.
        self.mime = mime
        self.charset = charset
        #: Content-Transfer-Encoding in lower case.
        self.encoding = encoding
        self.children = children
        self.message = message

    def _scalars(self) -> tuple[int, int, int, str, str | None, str]:
        """The fields other than the sub-parts, in the order of :meth:`to_json`."""
        return (
            self.header_start,
            self.body_start,
            self.body_end,
            self.mime,
            self.charset,
            self.encoding,
        )

    def _key(self) -> tuple[object, ...]:
        return (*self._scalars(), self.children, self.message)

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, Node):
            return NotImplemented
        return self._key() == other._key()

    def __hash__(self) -> int:
        return hash(self._key())

    def __repr__(self) -> str:
        return f"Node{self._key()!r}"

    @property
    def is_multipart(self) -> bool:
        return self.mime.startswith("multipart/")

    @staticmethod
    def of(part: Part) -> Node:
        message = Node.of(part.message) if part.message is not None else None
        if (part.type, part.subtype) not in ENCAPSULATED:
            message = None
        return Node(
            part.header_start,
            part.body_start,
            part.body_end,
            f"{part.type}/{part.subtype}",
            part.param("charset"),
            part.encoding,
            tuple([Node.of(child) for child in part.children]) if part.is_multipart else (),
            message,
        )

    def to_json(self) -> list[Any]:
        return [
            *self._scalars(),
            [child.to_json() for child in self.children],
            self.message.to_json() if self.message is not None else None,
        ]

    def json_text(self) -> str:
        """:meth:`to_json` as compact ASCII JSON, exactly what ``json.dumps(...,
        separators=(",", ":"))`` makes of it, built directly: the encoder's
        generic walk cost a sidecar entry 3 us a message, this well under 1.
        """
        children = ",".join([child.json_text() for child in self.children])
        message = self.message.json_text() if self.message is not None else "null"
        charset = encode_basestring_ascii(self.charset) if self.charset is not None else "null"
        return (
            f"[{self.header_start},{self.body_start},{self.body_end},"
            f"{encode_basestring_ascii(self.mime)},{charset},"
            f"{encode_basestring_ascii(self.encoding)},[{children}],{message}]"
        )

    @staticmethod
    def from_json(value: Any) -> Node:
        """Inverse of :meth:`to_json`; ValueError/TypeError on anything malformed."""
        hs, bs, be, mime, charset, encoding, children, message = value
        if not all(type(n) is int for n in (hs, bs, be)) or not 0 <= hs <= bs <= be:
            raise ValueError("bad offsets")
        if not isinstance(mime, str) or not isinstance(encoding, str):
            raise ValueError("bad type")
        if charset is not None and not isinstance(charset, str):
            raise ValueError("bad charset")
        return Node(
            hs,
            bs,
            be,
            mime,
            charset,
            encoding,
            tuple([Node.from_json(child) for child in children]),
            Node.from_json(message) if message is not None else None,
        )

    def count(self) -> int:
        total = 1 + sum(child.count() for child in self.children)
        return total + (self.message.count() if self.message is not None else 0)
