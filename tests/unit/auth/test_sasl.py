"""SASL decoding shared by SMTP, POP3 and IMAP."""

from __future__ import annotations

import base64
import re

import pytest

from mailserver.auth import (
    LOGIN_PASSWORD_CHALLENGE,
    LOGIN_USERNAME_CHALLENGE,
    MECHANISMS,
    SaslError,
    decode_base64,
    encode_base64,
    make_cram_md5_challenge,
    mechanism_names,
    parse_cram_md5,
    parse_plain,
)


def test_login_challenges_decode() -> None:
    assert decode_base64(LOGIN_USERNAME_CHALLENGE) == b"Username:"
    assert decode_base64(LOGIN_PASSWORD_CHALLENGE) == b"Password:"


def test_decode_base64() -> None:
    assert decode_base64("Z3JvdXAxXzE=") == b"group1_1"
    assert decode_base64("  Z3JvdXAxXzE=\r\n") == b"group1_1"  # typed by hand


@pytest.mark.parametrize("text", ["=", "", "  "])
def test_empty_response(text: str) -> None:
    assert decode_base64(text) == b""


@pytest.mark.parametrize(
    "text",
    ["group1_1", "hello world", "Z3JvdXAx XzE=", "Z3JvdXAxXzE", "=Z3Jv", "Z3Jv!!", "ä", "Zg==Zg=="],
)
def test_garbage_base64_rejected(text: str) -> None:
    with pytest.raises(SaslError, match="invalid base64") as info:
        decode_base64(text)
    assert info.value.message == "invalid base64"


def test_encode_base64_round_trip() -> None:
    data = b"<1896.697170952@postoffice.reston.mci.net>"
    encoded = encode_base64(data)
    assert "\n" not in encoded
    assert decode_base64(encoded) == data


def test_plain_rfc4616_examples() -> None:
    # RFC 4616 section 4: "\0tim\0tanstaaftanstaaf" and "Ursel\0Kurt\0xipj3plmq".
    assert parse_plain(b"\x00tim\x00tanstaaftanstaaf") == ("", "tim", "tanstaaftanstaaf")
    assert parse_plain(b"Ursel\x00Kurt\x00xipj3plmq") == ("Ursel", "Kurt", "xipj3plmq")


def test_plain_from_base64() -> None:
    response = base64.b64encode(b"\x00group1_1@JServer.NetLab\x00group1_1").decode()
    assert parse_plain(decode_base64(response)) == ("", "group1_1@JServer.NetLab", "group1_1")


def test_plain_utf8() -> None:
    assert parse_plain("\0jörg\0pässwörd".encode()) == ("", "jörg", "pässwörd")


@pytest.mark.parametrize(
    "response, message",
    [
        (b"tim\x00tanstaaf", "authzid NUL authcid NUL password"),
        (b"a\x00b\x00c\x00d", "authzid NUL authcid NUL password"),
        (b"", "authzid NUL authcid NUL password"),
        (b"\x00\x00secret", "empty user name"),
        (b"\x00tim\x00", "empty password"),
        (b"\x00tim\x00\xff\xfe", "not valid UTF-8"),
        (b"\x00t\xc3\x00pw", "not valid UTF-8"),
    ],
)
def test_plain_malformed(response: bytes, message: str) -> None:
    with pytest.raises(SaslError, match=message):
        parse_plain(response)


def test_cram_md5_challenge_shape() -> None:
    first = make_cram_md5_challenge("JServer.NetLab")
    second = make_cram_md5_challenge("JServer.NetLab")
    assert re.fullmatch(rb"<\d+\.\d+@JServer\.NetLab>", first)
    assert first != second


def test_parse_cram_md5_rfc2195_example() -> None:
    response = decode_base64("dGltIGI5MTNhNjAyYzdlZGE3YTQ5NWI0ZTZlNzMzNGQzODkw")
    assert parse_cram_md5(response) == ("tim", "b913a602c7eda7a495b4e6e7334d3890")
    assert parse_cram_md5(b"tim B913A602C7EDA7A495B4E6E7334D3890")[1] == (
        "b913a602c7eda7a495b4e6e7334d3890"
    )


@pytest.mark.parametrize(
    "response", [b"tim", b" b913a602c7eda7a495b4e6e7334d3890", b"tim xyz", b"tim " + b"g" * 32]
)
def test_parse_cram_md5_malformed(response: bytes) -> None:
    with pytest.raises(SaslError):
        parse_cram_md5(response)


def test_mechanisms() -> None:
    assert MECHANISMS == ("PLAIN", "LOGIN", "CRAM-MD5")
    assert mechanism_names(with_cram=False) == ["PLAIN", "LOGIN"]
    assert mechanism_names(with_cram=True) == ["PLAIN", "LOGIN", "CRAM-MD5"]
