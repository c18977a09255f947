"""ParsedMessage: everything IMAP asks of a message, computed once from its bytes.

It keeps the rendered ENVELOPE and BODYSTRUCTURE, the top-level header block
(for SEARCH and sent dates) and the slim part tree (offsets for sections and
body search) -- never the body itself, which can be megabytes.
"""

from __future__ import annotations

import datetime
import email.utils
import json
from typing import Any, Protocol

from mailserver.imap.mime import render, textsearch
from mailserver.imap.mime.headers import RAW, Field, decode_header_text, first, parse_fields
from mailserver.imap.mime.section import Section
from mailserver.imap.mime.sections import extract
from mailserver.imap.mime.structure import parse_message
from mailserver.imap.mime.tree import Node

#: The sidecar entry format (the file's first line names it; a file of another
#: version is ignored and rebuilt, its messages parsed again). 2: the
#: tab-separated :meth:`ParsedMessage.entry_bytes`; 1 was one JSON list.
FORMAT_VERSION = 2
#: A placeholder tree for :meth:`ParsedMessage.from_entry` (replaced at once).
_EMPTY_TREE = Node(0, 0, 0, "text/plain", None, "7bit")
#: Fields of a sidecar entry: size, part tree (JSON), header, ENVELOPE, BODY,
#: BODYSTRUCTURE, separated by tabs.
_ENTRY_FIELDS = 6
#: Bytes a parsed :class:`Field` costs beyond its text (object, list slot, str/bytes headers).
_FIELD_OVERHEAD = 240


class Structure(Protocol):
    """What FETCH ENVELOPE/BODY/BODYSTRUCTURE read of a parse."""

    def envelope(self) -> bytes: ...

    def bodystructure(self, extended: bool) -> bytes: ...


class Rendered:
    """ENVELOPE, BODY and BODYSTRUCTURE of a message parsed elsewhere (the parse
    pool), which also stored the whole parse in the folder's sidecar file: all a
    cold FETCH of those items needs, and nothing the event loop must build or
    keep beyond the response (a later SEARCH or section finds the rest in the
    sidecar)."""

    __slots__ = ("_body", "_bodystructure", "_envelope")

    def __init__(self, envelope: bytes, body: bytes, bodystructure: bytes) -> None:
        self._envelope = envelope
        self._body = body
        self._bodystructure = bodystructure

    def envelope(self) -> bytes:
        return self._envelope

    def bodystructure(self, extended: bool) -> bytes:
        return self._bodystructure if extended else self._body


class ParsedMessage:
    __slots__ = (
        "_body",
        "_bodystructure",
        "_entry",
        "_envelope",
        "_fields",
        "_header",
        "_tree",
        "size",
    )

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
        self._header: bytes | None = header
        self._tree: Node | None = tree
        self._envelope = envelope
        self._body = body
        self._bodystructure = bodystructure
        self._fields: list[Field] | None = None
        #: The :meth:`to_json` text, while header and tree are still only in it.
        self._entry: str | None = None

    @staticmethod
    def from_entry(
        size: int, envelope: bytes, body: bytes, bodystructure: bytes, entry: str
    ) -> ParsedMessage:
        """A parse made elsewhere (the parse pool) whose header and part tree stay
        in ``entry`` -- the :meth:`to_json` text of the same parse, which the
        sidecar stores anyway -- until something asks for them. A cold FETCH
        of ENVELOPE/BODYSTRUCTURE never does, and building the tree's objects
        cost the event loop more than the rest of its work per message."""
        parsed = ParsedMessage(size, b"", _EMPTY_TREE, envelope, body, bodystructure)
        parsed._header = None
        parsed._tree = None
        parsed._entry = entry
        return parsed

    @property
    def header(self) -> bytes:
        """The top-level header block, as in the message."""
        if self._header is None:
            self._unpack()
        assert self._header is not None
        return self._header

    @property
    def tree(self) -> Node:
        """The slim part tree (offsets for sections and body search)."""
        if self._tree is None:
            self._unpack()
        assert self._tree is not None
        return self._tree

    def _unpack(self) -> None:
        assert self._entry is not None
        whole = ParsedMessage.from_entry_text(self._entry)
        self._header, self._tree, self._entry = whole.header, whole.tree, None

    @staticmethod
    def parse(data: bytes) -> ParsedMessage:
        # Only the header fields the renderers read are kept, and BODY and
        # BODYSTRUCTURE are rendered in one walk: the cold FETCH of a big
        # folder is mostly this function (tests/unit/imap/mime/test_memo.py
        # checks it against the plain way, byte for byte).
        root = parse_message(data, render.ENVELOPE_FIELDS)
        body, bodystructure = render.bodystructures(root)
        return ParsedMessage(
            len(data),
            data[root.header_start : root.body_start],
            Node.of(root),
            render.envelope(root.fields, root.index),  # the index the parse built
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
        rendered = len(self._envelope) + len(self._body) + len(self._bodystructure) + 400
        entry = self._entry
        if entry is not None:
            # Not unpacked yet: an estimate from the entry text that is never
            # below the unpacked weight (the entry holds the header escaped,
            # each of its line breaks as ``\n``, and each part as a ``[``).
            return (
                3 * len(entry)
                + _FIELD_OVERHEAD * entry.count("\\n")
                + 120 * entry.count("[")
                + rendered
            )
        return (
            3 * len(self.header)
            + _FIELD_OVERHEAD * self.header.count(b"\n")
            + 120 * self.tree.count()
            + rendered
        )

    def to_json(self) -> list[Any]:
        """The parse as plain lists and strings (what the tests compare)."""
        if self._entry is not None:
            return ParsedMessage.from_entry_text(self._entry).to_json()
        return [
            self.size,
            self.header.decode(*RAW),
            self.tree.to_json(),
            self._envelope.decode(*RAW),
            self._body.decode(*RAW),
            self._bodystructure.decode(*RAW),
        ]

    def entry_bytes(self) -> bytes:
        """The sidecar entry (one line without its line end): the size, the part
        tree as JSON, then the header and the three renderings as they are, each
        with only ``%``, CR, LF and TAB escaped (``%25``, ``%0D``, ``%0A``,
        ``%09``), tab-separated.

        Not JSON for the four texts: escaping the quotes that fill the
        renderings and decoding the bytes to text made a JSON entry cost
        about 5 us a message, a fifth of the parse, in whichever process
        parses; four ``bytes.replace`` each are C-speed scans. Not
        ``marshal``/``pickle``: a user can write the file.
        """
        if self._entry is not None:
            return self._entry.encode("utf-8", "surrogateescape")
        return b"\t".join(
            [
                b"%d" % self.size,
                self.tree.json_text().encode(),
                _escape(self.header),
                _escape(self._envelope),
                _escape(self._body),
                _escape(self._bodystructure),
            ]
        )

    def entry_text(self) -> str:
        """:meth:`entry_bytes` as text (the parse cache keeps entries as ``str``)."""
        if self._entry is not None:
            return self._entry
        return self.entry_bytes().decode("utf-8", "surrogateescape")

    @staticmethod
    def from_entry_text(entry: str) -> ParsedMessage:
        """Inverse of :meth:`entry_text`; ValueError/TypeError on anything malformed
        (the file is user-writable: every field is checked)."""
        fields = entry.split("\t")
        if len(fields) != _ENTRY_FIELDS:
            raise ValueError("bad entry")
        size, tree, header, envelope, body, bodystructure = fields
        if not size.isdigit() or not size.isascii():
            raise ValueError("bad size")
        return ParsedMessage(
            int(size),
            _unescape(header),
            Node.from_json(json.loads(tree)),
            _unescape(envelope),
            _unescape(body),
            _unescape(bodystructure),
        )


def _escape(data: bytes) -> bytes:
    """``data`` with no CR, LF or TAB (a sidecar entry is one line of tab-separated
    fields); ``%`` escaped first, so :func:`_unescape` is exact."""
    return (
        data.replace(b"%", b"%25")
        .replace(b"\n", b"%0A")
        .replace(b"\r", b"%0D")
        .replace(b"\t", b"%09")
    )


def _unescape(text: str) -> bytes:
    """Inverse of :func:`_escape` on the entry's text (surrogateescape-decoded).

    Every ``%`` of an escaped field starts one of the four escapes, so
    replacing them one kind after the other (``%25`` last; the others leave
    no ``%`` behind) undoes exactly what :func:`_escape` did.
    """
    if "%" not in text:  # the renderings, mostly
        return text.encode("utf-8", "surrogateescape")
    return (
        text.replace("%09", "\t")
        .replace("%0D", "\r")
        .replace("%0A", "\n")
        .replace("%25", "%")
        .encode("utf-8", "surrogateescape")
    )
