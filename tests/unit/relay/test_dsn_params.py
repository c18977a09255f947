"""RFC 3461 parameters taken off MAIL and RCPT before aiosmtpd sees the rest."""

from __future__ import annotations

import pytest

from mailserver.smtp import dsn


def test_mail_parameters() -> None:
    rest, params = dsn.take("FROM:<a@b.lab> SIZE=10 ret=hdrs ENVID=Q+2B1", dsn.MAIL_KEYS)
    assert rest == "FROM:<a@b.lab> SIZE=10"
    assert params == dsn.Params(ret="HDRS", envid="Q+2B1")


def test_rcpt_parameters_keep_their_case() -> None:
    rest, params = dsn.take("TO:<a@b.lab> NOTIFY=success,Delay ORCPT=rfc822;A@B.lab", dsn.RCPT_KEYS)
    assert rest == "TO:<a@b.lab>"
    assert params.notify == ("SUCCESS", "DELAY") and params.orcpt == "rfc822;A@B.lab"


def test_other_keys_are_left_for_aiosmtpd() -> None:
    assert dsn.take("TO:<a@b.lab> RET=FULL", dsn.RCPT_KEYS) == (
        "TO:<a@b.lab> RET=FULL",
        dsn.Params(),
    )
    assert dsn.take("FROM:garbage<", dsn.MAIL_KEYS)[0] == "FROM:garbage<"


@pytest.mark.parametrize(
    "arg",
    [
        "TO:<a@b> NOTIFY=NEVER,SUCCESS",
        "TO:<a@b> NOTIFY=SOMETIMES",
        "TO:<a@b> NOTIFY=SUCCESS,SUCCESS",
        "TO:<a@b> ORCPT=a@b",
        "TO:<a@b> ORCPT=rfc822;a=b",
        "TO:<a@b> NOTIFY=NEVER NOTIFY=NEVER",
    ],
)
def test_bad_rcpt_parameters(arg: str) -> None:
    with pytest.raises(dsn.DsnSyntaxError, match=r"^501 5\.5\.4 "):
        dsn.take(arg, dsn.RCPT_KEYS)


@pytest.mark.parametrize("arg", ["FROM:<a@b> RET=ALL", "FROM:<a@b> ENVID=" + "x" * 101])
def test_bad_mail_parameters(arg: str) -> None:
    with pytest.raises(dsn.DsnSyntaxError):
        dsn.take(arg, dsn.MAIL_KEYS)


def test_xtext_round_trip() -> None:
    assert dsn.xtext_encode("a+b=c d") == "a+2Bb+3Dc+20d"
    assert dsn.xtext_decode("a+2Bb+3Dc+20d") == "a+b=c d"
    assert dsn.is_xtext("a+2B") and not dsn.is_xtext("a+2") and not dsn.is_xtext("a=b")
