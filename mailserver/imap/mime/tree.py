"""The slim part tree kept per message: offsets plus what SEARCH needs to decode.

It is what survives in the cache (and the on-disk sidecar) after parsing;
the rich :class:`~mailserver.imap.mime.structure.Part` with every header
field is dropped once ENVELOPE and BODYSTRUCTURE are rendered.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from mailserver.imap.mime.structure import ENCAPSULATED, Part


@dataclass(frozen=True, slots=True)
class Node:
    header_start: int
    body_start: int
    body_end: int
    #: ``type/subtype`` in lower case.
    mime: str
    charset: str | None
    #: Content-Transfer-Encoding in lower case.
    encoding: str
    children: tuple[Node, ...] = ()
    message: Node | None = None

    @property
    def is_multipart(self) -> bool:
        return self.mime.startswith("multipart/")

    @classmethod
    def of(cls, part: Part) -> Node:
        message = cls.of(part.message) if part.message is not None else None
        if (part.type, part.subtype) not in ENCAPSULATED:
            message = None
        return cls(
            part.header_start,
            part.body_start,
            part.body_end,
            f"{part.type}/{part.subtype}",
            part.param("charset"),
            part.encoding,
            tuple(cls.of(child) for child in part.children) if part.is_multipart else (),
            message,
        )

    def to_json(self) -> list[Any]:
        return [
            self.header_start,
            self.body_start,
            self.body_end,
            self.mime,
            self.charset,
            self.encoding,
            [child.to_json() for child in self.children],
            self.message.to_json() if self.message is not None else None,
        ]

    @classmethod
    def from_json(cls, value: Any) -> Node:
        """Inverse of :meth:`to_json`; ValueError/TypeError on anything malformed."""
        hs, bs, be, mime, charset, encoding, children, message = value
        if not all(type(n) is int for n in (hs, bs, be)) or not 0 <= hs <= bs <= be:
            raise ValueError("bad offsets")
        if not isinstance(mime, str) or not isinstance(encoding, str):
            raise ValueError("bad type")
        if charset is not None and not isinstance(charset, str):
            raise ValueError("bad charset")
        return cls(
            hs,
            bs,
            be,
            mime,
            charset,
            encoding,
            tuple(cls.from_json(child) for child in children),
            cls.from_json(message) if message is not None else None,
        )

    def count(self) -> int:
        total = 1 + sum(child.count() for child in self.children)
        return total + (self.message.count() if self.message is not None else 0)
