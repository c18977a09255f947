"""Modified UTF-7 (RFC 3501 5.1.3): the RFC's own example plus the edge cases."""

import pytest

from mailserver import mutf7


def test_rfc3501_example_round_trip() -> None:
    encoded = "~peter/mail/&U,BTFw-/&ZeVnLIqe-"
    decoded = "~peter/mail/台北/日本語"
    assert mutf7.decode(encoded) == decoded
    assert mutf7.encode(decoded) == encoded


def test_ampersand() -> None:
    assert mutf7.encode("&") == "&-"
    assert mutf7.decode("&-") == "&"
    assert mutf7.encode("Tom & Jerry") == "Tom &- Jerry"
    assert mutf7.decode("Tom &- Jerry") == "Tom & Jerry"


@pytest.mark.parametrize(
    "text", ["", "INBOX", "Entwürfe", "日本語 mixed ascii", "😀", "a&b&c", "ä&ö", "x\u00a0y"]
)
def test_round_trip(text: str) -> None:
    encoded = mutf7.encode(text)
    assert encoded.isascii()
    assert mutf7.decode(encoded) == text


def test_non_bmp_uses_surrogate_pair() -> None:
    assert mutf7.encode("😀") == "&2D3eAA-"


@pytest.mark.parametrize(
    "bad",
    [
        "&U,BTFw",  # unterminated
        "&Jjo!",  # bad base64 char
        "&AGE-",  # shifted printable ASCII ("a")
        "&U,BTF-",  # padding bits not zero / truncated
        "&ZeU-&Zk8-",  # adjacent shifted runs: not canonical
        "台北",  # raw non-ASCII
        "a\x01b",  # control character
        "&2D0-",  # lone high surrogate
    ],
)
def test_invalid_is_rejected(bad: str) -> None:
    with pytest.raises(ValueError):
        mutf7.decode(bad)


def test_lone_surrogate_cannot_be_encoded() -> None:
    with pytest.raises(ValueError):
        mutf7.encode("\ud800")
