"""Who may log in: the user database, password checks and SASL decoding.

SMTP, POP3 and IMAP all authenticate through this package and nothing else,
so a login behaves the same in every protocol.
"""

from mailserver.auth.authenticator import Authenticator, LoginBlocked
from mailserver.auth.sasl import (
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
from mailserver.auth.users import UserDatabase, UserError, normalize_name

__all__ = [
    "LOGIN_PASSWORD_CHALLENGE",
    "LOGIN_USERNAME_CHALLENGE",
    "MECHANISMS",
    "Authenticator",
    "LoginBlocked",
    "SaslError",
    "UserDatabase",
    "UserError",
    "decode_base64",
    "encode_base64",
    "make_cram_md5_challenge",
    "mechanism_names",
    "normalize_name",
    "parse_cram_md5",
    "parse_plain",
]
