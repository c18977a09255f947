"""The next hop's extensions decide what the client may send (RFC 6152, 6531, 1870, 3461)."""

from __future__ import annotations

from typing import Any

from mailserver.relay.client import Transaction, _mail_options, _unsendable


class Hop:
    """Just the part of aiosmtplib's client these rules read: the EHLO keywords."""

    def __init__(self, **extensions: str) -> None:
        self.esmtp_extensions = {k.lower(): v for k, v in extensions.items()}

    def supports_extension(self, name: str) -> bool:
        return name.lower() in self.esmtp_extensions


def transaction(**kw: Any) -> Transaction:
    return Transaction("a@x", [("b@y", [], None)], b"x" * 100, **kw)


def test_8bit_needs_8bitmime_and_utf8_needs_smtputf8() -> None:
    plain: Any = Hop(size="1000")
    assert _unsendable(plain, transaction()) is None
    assert (_unsendable(plain, transaction(body_8bit=True)) or "").startswith("554 5.6.3")
    assert (_unsendable(plain, transaction(smtputf8=True)) or "").startswith("554 5.6.7")
    capable: Any = Hop(**{"8bitmime": "", "smtputf8": ""})
    assert _unsendable(capable, transaction(body_8bit=True, smtputf8=True)) is None


def test_size_limit_of_the_next_hop() -> None:
    small: Any = Hop(size="50")
    assert (_unsendable(small, transaction()) or "").startswith("552 5.3.4")
    unlimited: Any = Hop(size="0")
    assert _unsendable(unlimited, transaction()) is None


def test_mail_options() -> None:
    hop: Any = Hop(size="0", dsn="")
    options = _mail_options(hop, transaction(body_8bit=True, ret="HDRS", envid="e1"), dsn=True)
    assert options == ["SIZE=100", "BODY=8BITMIME", "RET=HDRS", "ENVID=e1"]
    assert _mail_options(Hop(), transaction(ret="FULL"), dsn=False) == []  # type: ignore[arg-type]
