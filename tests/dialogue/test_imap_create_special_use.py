"""CREATE-SPECIAL-USE (RFC 6154 3), after the RFC's example: the attributes stay with
the folder (LIST shows them, also after RENAME); virtual or unknown ones are
``NO [USEATTR]`` and create nothing."""

from __future__ import annotations

from mailserver.imap.session import BASE_CAPABILITIES
from tests.dialogue import test_imap_rfc3501 as harness
from tests.dialogue.test_imap_rfc3501 import ImapLab

imap_lab_factory = harness.imap_lab_factory
imap_lab = harness.imap_lab


def test_capability() -> None:
    assert "CREATE-SPECIAL-USE" in BASE_CAPABILITIES


async def test_create_special_use_rfc6154(imap_lab: ImapLab) -> None:
    client = await imap_lab.login()
    await client.play(
        """
        C: t1 CREATE MySpecial (USE (\\Drafts \\Sent))
        S: t1 OK [MAILBOXID (*)] Create completed
        C: t2 LIST "" MySpecial
        S: * LIST (\\HasNoChildren \\Drafts \\Sent) "/" MySpecial
        S: t2 OK LIST completed
        C: t3 CREATE Everything (USE (\\All))
        S: t3 NO [USEATTR] Cannot create a mailbox for \\All
        C: t4 CREATE Odd (USE (\\Bogus))
        S: t4 NO [USEATTR] Cannot create a mailbox for \\Bogus
        C: t5 LIST "" *
        S: * LIST (\\HasNoChildren) "/" INBOX
        S: * LIST (\\HasNoChildren \\Drafts \\Sent) "/" MySpecial
        S: t5 OK LIST completed
        C: t6 RENAME MySpecial Box/Renamed
        S: t6 OK *
        C: t7 LIST (SPECIAL-USE) "" *
        S: * LIST (\\HasNoChildren \\Drafts \\Sent) "/" Box/Renamed
        S: t7 OK LIST completed
        C: t8 CREATE Spam (USE (\\junk))
        S: t8 OK [MAILBOXID (*)] Create completed
        C: t9 CREATE Spam (USE (\\Junk))
        S: t9 NO [ALREADYEXISTS] *
        C: u1 CREATE Bad (FOO (\\Junk))
        S: u1 BAD Unknown CREATE parameter
        C: u2 CREATE Plain ()
        S: u2 BAD *
        C: u3 LIST "" Spam
        S: * LIST (\\HasNoChildren \\Junk) "/" Spam
        S: u3 OK LIST completed
        """
    )
