"""ParsedMessage: everything IMAP asks of a message, computed once from its bytes.

It keeps the rendered ENVELOPE and BODYSTRUCTURE, the top-level header block
(for SEARCH and sent dates) and the slim part tree (offsets for sections and
body search) -- never the body itself, which can be megabytes.
"""

from __future__ import annotations

import datetime
import email.utils
from typing import Any

from mailserver.imap.mime import render, textsearch
from mailserver.imap.mime.headers import RAW, Field, decode_header_text, first, parse_fields
from mailserver.imap.mime.section import Section
from mailserver.imap.mime.sections import extract
from mailserver.imap.mime.structure import parse_message
from mailserver.imap.mime.tree import Node

FORMAT_VERSION = 1
#: Bytes a parsed :class:`Field` costs beyond its text (object, list slot, str/bytes headers).
_FIELD_OVERHEAD = 240


class ParsedMessage:
    __slots__ = ("_body", "_bodystructure", "_envelope", "_fields", "header", "size", "tree")

    def __init__(
        self,
        size: int,
        header: bytes,
        tree: Node,
        envelope: bytes,
        body: bytes,
        bodystructure: bytes,
    ) -> None:
        #: Octets of the message as ``Folder.read`` returns it.
        self.size = size
        self.header = header
        self.tree = tree
        self._envelope = envelope
        self._body = body
        self._bodystructure = bodystructure
        self._fields: list[Field] | None = None

    @classmethod
    def parse(cls, data: bytes) -> ParsedMessage:
        # Only the header fields the renderers read are kept, and BODY and
        # BODYSTRUCTURE are rendered in one walk: the cold FETCH of a big
        # folder is mostly this function (tests/unit/imap/mime/test_memo.py
        # checks it against the plain way, byte for byte).
        root = parse_message(data, render.ENVELOPE_FIELDS)
        body, bodystructure = render.bodystructures(root)
        return cls(
            len(data),
            data[root.header_start : root.body_start],
            Node.of(root),
            render.envelope(root.fields),
            body,
            bodystructure,
        )

    # ------------------------------------------------------------ FETCH

    def envelope(self) -> bytes:
        return self._envelope

    def bodystructure(self, extended: bool) -> bytes:
        return self._bodystructure if extended else self._body

    def section(self, data: bytes, section: Section) -> bytes:
        """``BODY[section]`` from the message's bytes (the same bytes it was parsed from)."""
        return extract(data, self.tree, section)

    # ----------------------------------------------------------- SEARCH

    @property
    def fields(self) -> list[Field]:
        if self._fields is None:
            self._fields = parse_fields(self.header)
        return self._fields

    def header_value(self, name: str) -> str | None:
        """First ``name`` field, unfolded with encoded words decoded; None if absent."""
        found = first(self.fields, name)
        return None if found is None else decode_header_text(found.unfolded())

    def contains_header(self, name: str, needle: str) -> bool:
        return textsearch.header_matches(self.fields, name, needle)

    def contains_header_text(self, needle: str) -> bool:
        """``needle`` anywhere in the decoded top-level header (half of SEARCH TEXT)."""
        wanted = textsearch.normalize(needle)
        return wanted in textsearch.normalize(textsearch.header_block_text(self.header))

    def contains_body(self, data: bytes, needle: str) -> bool:
        return textsearch.body_matches(data, self.tree, needle)

    def contains_text(self, data: bytes, needle: str) -> bool:
        return textsearch.text_matches(data, self.tree, needle)

    def date(self) -> datetime.datetime | None:
        """The Date header as an aware datetime (naive ones taken as UTC); None if unusable."""
        found = first(self.fields, "Date")
        if found is None:
            return None
        try:
            moment = email.utils.parsedate_to_datetime(found.unfolded())
        except (TypeError, ValueError, IndexError, OverflowError):
            return None
        if moment is None:
            return None
        if moment.tzinfo is None:
            moment = moment.replace(tzinfo=datetime.UTC)
        return moment

    # ---------------------------------------------------------- caching

    def weight(self) -> int:
        """Rough bytes of memory held, for the cache's budget.

        Counts the parsed header fields too (SEARCH builds them lazily and they
        stay): about two copies of the header plus a per-field overhead, so a
        message made of 100,000 tiny header lines cannot hold many times the
        budget once searched.
        """
        return (
            3 * len(self.header)
            + _FIELD_OVERHEAD * self.header.count(b"\n")
            + len(self._envelope)
            + len(self._body)
            + len(self._bodystructure)
            + 120 * self.tree.count()
            + 400
        )

    def to_json(self) -> list[Any]:
        return [
            self.size,
            self.header.decode(*RAW),
            self.tree.to_json(),
            self._envelope.decode(*RAW),
            self._body.decode(*RAW),
            self._bodystructure.decode(*RAW),
        ]

    @classmethod
    def from_json(cls, value: Any) -> ParsedMessage:
        size, header, tree, envelope, body, bodystructure = value
        if type(size) is not int or not all(
            isinstance(s, str) for s in (header, envelope, body, bodystructure)
        ):
            raise ValueError("bad entry")
        return cls(
            size,
            header.encode(*RAW),
            Node.from_json(tree),
            envelope.encode(*RAW),
            body.encode(*RAW),
            bodystructure.encode(*RAW),
        )
