"""The address of a part of a message, as a FETCH ``BODY[...]`` names it (RFC 3501 6.4.5)."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Section:
    #: Part numbers (``1.2`` -> ``(1, 2)``); empty for the whole message.
    part: tuple[int, ...] = ()
    #: None, "HEADER", "HEADER.FIELDS", "HEADER.FIELDS.NOT", "TEXT" or "MIME".
    text: str | None = None
    #: Header field names for HEADER.FIELDS[.NOT].
    fields: tuple[str, ...] = ()


def section_label(section: Section) -> str:
    """The text between ``BODY[`` and ``]`` echoed in the FETCH response.

    Field names are upper-cased (as Dovecot does); clients match them
    case-insensitively.
    """
    pieces = [str(n) for n in section.part]
    if section.text is not None:
        pieces.append(section.text)
    label = ".".join(pieces)
    if section.text in ("HEADER.FIELDS", "HEADER.FIELDS.NOT"):
        label += " (" + " ".join(name.upper() for name in section.fields) + ")"
    return label
