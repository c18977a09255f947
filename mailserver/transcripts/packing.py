"""Quiet transcripts packed small: a session's batches as one compressed ``bytes``.

Ten thousand idle IMAP sessions each keep the ~1.5 KB their greeting,
LOGIN and SELECT left in the console's archive, in every worker (the
console may be served by any of them). Nearly all of that text is the same
from one session to the next: the capability list, the SELECT response.
Deflate with a preset dictionary of such text (RFC 1951, ``zlib``'s
``zdict``) turns it into references to the dictionary: an idle session's
transcript packs to well under a hundred octets, in some tens of
microseconds. Only the archive's sweep packs (a record that has been quiet
for a while); reading unpacks a copy, and a record's next line unpacks it
for good.

The packed form never leaves the process (events and the sync between
workers carry the lines as they were), so the dictionary may change between
releases freely.

Layout before compression: the number of batches, each batch's time (a
double) and its text's length in UTF-8 octets (little-endian), then the
texts one after another. Lengths, not a separator: a line's text may hold
any character.
"""

from __future__ import annotations

import struct
import zlib

#: Window bits of raw deflate (no zlib header or checksum: the data never leaves
#: memory). 2**13 octets of window hold the whole dictionary and a typical transcript
#: while keeping the compressor's state small and quick to set up.
_WBITS = -13
#: Compression level: the dictionary does the work; higher levels gain nothing here.
_LEVEL = 6
#: zlib's ``memLevel``: less hash-table memory to set up per call.
_MEM_LEVEL = 6

_IMAP_CAPABILITIES = (
    "IMAP4rev1 LITERAL- MULTIAPPEND BINARY CATENATE IMAP4rev2 NOTIFY URLAUTH SASL-IR "
    "CONDSTORE QRESYNC QUOTA QUOTA=RES-STORAGE UTF8=ACCEPT IDLE UIDPLUS MOVE UNSELECT "
    "NAMESPACE ID ENABLE CHILDREN ESEARCH LIST-EXTENDED LIST-STATUS SPECIAL-USE SORT "
    "SORT=DISPLAY THREAD=ORDEREDSUBJECT THREAD=REFERENCES THREAD=REFS ESORT WITHIN "
    "STATUS=SIZE SEARCHRES PREVIEW PREVIEW=FUZZY SNIPPET=FUZZY SAVEDATE CONTEXT=SEARCH "
    "CONTEXT=SORT OBJECTID CREATE-SPECIAL-USE"
)

#: Typical transcript text, least common first: deflate reaches the end of the
#: dictionary with the shortest distances. What an idle IMAP session says (greeting,
#: LOGIN, SELECT INBOX) is last, with a few variants of what differs per session.
DICTIONARY = "\n".join(
    [
        # SMTP
        "S220 JServer.NetLab ESMTP ready",
        "CEHLO [127.0.0.1]",
        "S250-PIPELINING",
        "S250-SIZE 73400320",
        "S250-STARTTLS",
        "S250-AUTH PLAIN LOGIN CRAM-MD5",
        "S250-8BITMIME",
        "S250-ENHANCEDSTATUSCODES",
        "S250-SMTPUTF8",
        "S250-DSN",
        "S250-CHUNKING",
        "S250 BINARYMIME",
        "CMAIL FROM:<sender@example.org>",
        "S250 2.1.0 Ok",
        "CRCPT TO:<user@example.org>",
        "S250 2.1.5 Ok",
        "CDATA",
        "S354 End data with <CR><LF>.<CR><LF>",
        "CFrom: Subject: Date: Message-ID: To: Content-Type: text/plain; charset=",
        "C.",
        "S250 2.0.0 Ok: queued as ",
        "CQUIT",
        "S221 2.0.0 Bye",
        # POP3
        "S+OK POP3 server ready <",
        "CUSER ",
        "CPASS ********",
        "S+OK 30 messages (89435 octets)",
        "CSTAT",
        "CUIDL",
        "CRETR 1",
        "S+OK 2950 octets",
        " more lines, 2950 octets in all]",
        "S.",
        "CQUIT",
        "S+OK",
        # IMAP, other commands
        "S* 1 FETCH (FLAGS (\\Seen) UID 1 RFC822.SIZE 2950)",
        "OK FETCH completed",
        "CA0003 NOOP",
        "SA0003 OK Noop completed",
        "S* BYE Logging out",
        "SA0004 OK Logout completed",
        "CA0001 IDLE",
        "S+ idling",
        "CDONE",
        "SA0001 OK Idle completed",
        "S* CAPABILITY " + _IMAP_CAPABILITIES + " STARTTLS AUTH=PLAIN AUTH=LOGIN",
        "SA0000 OK Capability completed",
        # IMAP: the idle session
        "S* OK [CAPABILITY " + _IMAP_CAPABILITIES.replace("LITERAL-", "LITERAL+") + "] Logged in",
        "S* OK [CAPABILITY "
        + _IMAP_CAPABILITIES
        + " STARTTLS AUTH=PLAIN AUTH=LOGIN] JServer.NetLab IMAP4rev1 ready",
        "CA0001 LOGIN user ********",
        "SA0001 OK [CAPABILITY "
        + _IMAP_CAPABILITIES.replace("LITERAL-", "LITERAL+")
        + "] Logged in",
        "CA0002 SELECT INBOX",
        "S* FLAGS (\\Answered \\Flagged \\Deleted \\Seen \\Draft)",
        "S* OK [PERMANENTFLAGS (\\Answered \\Flagged \\Deleted \\Seen \\Draft \\*)]"
        " Flags permitted",
        "S* 30 EXISTS",
        "S* 0 RECENT",
        "S* OK [UNSEEN 1] First unseen",
        "S* OK [UIDVALIDITY 1796550348] UIDs valid",
        "S* OK [UIDNEXT 31] Predicted next UID",
        "S* OK [HIGHESTMODSEQ 31] Highest",
        "S* OK [MAILBOXID (0123456789abcdef0123456789abcdef)] Ok",
        "SA0002 OK [READ-WRITE] Select completed",
    ]
).encode()

_COUNT = struct.Struct("<I")


def pack(flat: list[float | str]) -> bytes:
    """``time, text, time, text, ...`` (a :class:`SessionRecord`'s batches) as one blob."""
    times = flat[0::2]
    texts = [str(text).encode("utf-8", "surrogatepass") for text in flat[1::2]]
    count = len(texts)
    head = struct.pack(f"<I{count}d{count}I", count, *map(float, times), *map(len, texts))
    packer = zlib.compressobj(_LEVEL, zlib.DEFLATED, _WBITS, _MEM_LEVEL, zdict=DICTIONARY)
    return packer.compress(head + b"".join(texts)) + packer.flush()


def unpack(blob: bytes) -> list[float | str]:
    """What :func:`pack` was given, equal to the last bit."""
    unpacker = zlib.decompressobj(_WBITS, zdict=DICTIONARY)
    data = unpacker.decompress(blob) + unpacker.flush()
    (count,) = _COUNT.unpack_from(data)
    numbers = struct.unpack_from(f"<{count}d{count}I", data, _COUNT.size)
    times, lengths = numbers[:count], numbers[count:]
    flat: list[float | str] = []
    at = _COUNT.size + 12 * count
    for when, length in zip(times, lengths, strict=True):
        flat.append(when)
        flat.append(data[at : at + int(length)].decode("utf-8", "surrogatepass"))
        at += int(length)
    return flat
