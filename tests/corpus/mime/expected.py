# ruff: noqa: E501, RUF001  (expected IMAP data: long byte strings, CJK punctuation)
"""Expected ENVELOPE / BODY / BODYSTRUCTURE for every message in this folder.

Written by hand from RFC 3501 7.4.2 (and, where the RFC is silent, what
Dovecot does: default ``("CHARSET" "US-ASCII")`` for text parts without one,
invalid transfer encodings shown as 7BIT, sender / reply-to copied from
From). Types, subtypes, encodings, disposition types and parameter names are
upper-case (as in the RFC's own examples); values are as written.

In the strings, the atoms ``SIZE`` and ``LINES`` stand for numbers the test
computes itself from the message bytes with a naive reference splitter; plain
numbers (the RFC 3501 example, Dovecot's own test message) are checked both
ways. Messages are fed to the parser with CRLF line ends, as the store
returns them. ``sections`` keys are FETCH section specs; values are the
expected bytes with LF line ends (converted to CRLF by the test).
"""

from __future__ import annotations

from typing import Any

TP = b'"TEXT" "PLAIN" ("CHARSET" "US-ASCII") NIL NIL "7BIT"'
EXT4 = b"NIL NIL NIL NIL"


def addr(mailbox: str, host: str, name: str | None = None) -> bytes:
    n = b"NIL" if name is None else b'"' + name.encode() + b'"'
    return b'(%s NIL "%s" "%s")' % (n, mailbox.encode(), host.encode())


def env(
    date: bytes = b"NIL",
    subject: bytes = b"NIL",
    from_: bytes = b"NIL",
    sender: bytes | None = None,
    reply_to: bytes | None = None,
    to: bytes = b"NIL",
    cc: bytes = b"NIL",
    bcc: bytes = b"NIL",
    in_reply_to: bytes = b"NIL",
    message_id: bytes = b"NIL",
) -> bytes:
    sender = from_ if sender is None else sender
    reply_to = from_ if reply_to is None else reply_to
    items = (date, subject, from_, sender, reply_to, to, cc, bcc, in_reply_to, message_id)
    return b"(" + b" ".join(items) + b")"


A_EX = b"(" + addr("a", "example.com") + b")"
B_EX = b"(" + addr("b", "example.com") + b")"

CASES: dict[str, dict[str, Any]] = {
    # RFC 3501 7.4.2: the FETCH BODY example and the ENVELOPE example, in one message.
    "rfc3501_example": {
        "envelope": b'("Wed, 17 Jul 1996 02:23:25 -0700 (PDT)" "IMAP4rev1 WG mtg summary and minutes"'
        b' (("Terry Gray" NIL "gray" "cac.washington.edu"))'
        b' (("Terry Gray" NIL "gray" "cac.washington.edu"))'
        b' (("Terry Gray" NIL "gray" "cac.washington.edu"))'
        b' ((NIL NIL "imap" "cac.washington.edu"))'
        b' ((NIL NIL "minutes" "CNRI.Reston.VA.US")("John Klensin" NIL "KLENSIN" "MIT.EDU"))'
        b' NIL NIL "<B27397-0100000@cac.washington.edu>")',
        "body": b'(("TEXT" "PLAIN" ("CHARSET" "US-ASCII") NIL NIL "7BIT" 1152 23)'
        b'("TEXT" "PLAIN" ("CHARSET" "US-ASCII" "NAME" "cc.diff")'
        b' "<960723163407.20117h@cac.washington.edu>" "Compiler diff" "BASE64" 4554 73) "MIXED")',
        "bodystructure": b'(("TEXT" "PLAIN" ("CHARSET" "US-ASCII") NIL NIL "7BIT" 1152 23 NIL NIL NIL NIL)'
        b'("TEXT" "PLAIN" ("CHARSET" "US-ASCII" "NAME" "cc.diff")'
        b' "<960723163407.20117h@cac.washington.edu>" "Compiler diff" "BASE64" 4554 73'
        b' NIL NIL NIL NIL) "MIXED" ("BOUNDARY" "8323328-2120168431-824156932=:325") NIL NIL NIL)',
        "sections": {
            "HEADER.FIELDS (SUBJECT MESSAGE-ID)": b"Subject: IMAP4rev1 WG mtg summary and minutes\n"
            b"Message-Id: <B27397-0100000@cac.washington.edu>\n\n",
            "2.MIME": b'Content-Type: TEXT/PLAIN; CHARSET=US-ASCII; NAME="cc.diff"\n'
            b"Content-ID: <960723163407.20117h@cac.washington.edu>\n"
            b"Content-Description: Compiler diff\n"
            b"Content-Transfer-Encoding: BASE64\n\n",
            "3": b"",
            "2.2": b"",
        },
        "headers": {"subject": "IMAP4rev1 WG mtg summary and minutes", "x-none": None},
        "date": "1996-07-17T02:23:25-07:00",
    },
    # Dovecot's src/lib-imap/test-imap-bodystructure.c message and its expected output
    # (sizes there are CRLF sizes too), with our upper-case convention.
    "dovecot_test": {
        "envelope": env(
            date=b'"Sat, 24 Mar 2007 23:00:00 +0200"',
            from_=b"(" + addr("user", "domain.org") + b")",
        ),
        "bodystructure": b'(("TEXT" "X-MYOWN" ("CHARSET" "us-ascii" "FOO" "quoted\\"string")'
        b' "<foo@example.com>" "hellodescription" "7BIT" 7 1 "Q2hlY2sgSW50ZWdyaXR5IQ=="'
        b' ("INLINE" ("FOO" "bar")) ("en" "fi" "se") "http://example.com/test.txt")'
        b'("MESSAGE" "RFC822" NIL NIL NIL "7BIT" 412'
        b' ("Sun, 12 Aug 2012 12:34:56 +0300" "submsg" ((NIL NIL "sub" "domain.org"))'
        b' ((NIL NIL "sub" "domain.org")) ((NIL NIL "sub" "domain.org"))'
        b' ((NIL NIL "sub-to1" "domain.org")(NIL NIL "sub-to2" "domain.org")) NIL NIL NIL NIL)'
        b' (("TEXT" "HTML" ("CHARSET" "US-ASCII") NIL NIL "8BIT" 20 1 NIL NIL NIL NIL)'
        b'("TEXT" "PLAIN" ("CHARSET" "US-ASCII") NIL NIL "7BIT" 21 1 NIL NIL NIL NIL)'
        b' "ALTERNATIVE" ("BOUNDARY" "sub1") NIL NIL NIL) 21 NIL NIL NIL NIL)'
        b' "MIXED" ("BOUNDARY" "foo bar") NIL NIL NIL)',
        "body": b'(("TEXT" "X-MYOWN" ("CHARSET" "us-ascii" "FOO" "quoted\\"string")'
        b' "<foo@example.com>" "hellodescription" "7BIT" 7 1)'
        b'("MESSAGE" "RFC822" NIL NIL NIL "7BIT" 412'
        b' ("Sun, 12 Aug 2012 12:34:56 +0300" "submsg" ((NIL NIL "sub" "domain.org"))'
        b' ((NIL NIL "sub" "domain.org")) ((NIL NIL "sub" "domain.org"))'
        b' ((NIL NIL "sub-to1" "domain.org")(NIL NIL "sub-to2" "domain.org")) NIL NIL NIL NIL)'
        b' (("TEXT" "HTML" ("CHARSET" "US-ASCII") NIL NIL "8BIT" 20 1)'
        b'("TEXT" "PLAIN" ("CHARSET" "US-ASCII") NIL NIL "7BIT" 21 1) "ALTERNATIVE") 21) "MIXED")',
        "sections": {
            "1": b"hello\n",
            "2.HEADER.FIELDS (SUBJECT)": b"Subject: submsg\n\n",
            "2.TEXT": b"Sub MIME prologue\n--sub1\nContent-Type: text/html\n"
            b"Content-Transfer-Encoding: 8bit\n\n<p>Hello world</p>\n\n--sub1\n"
            b"Content-Type: text/plain\nContent-Transfer-Encoding: ?invalid\n\n"
            b"Hello another world\n\n--sub1--\nSub MIME epilogue\n",
            "2.1": b"<p>Hello world</p>\n",
            "2.2.MIME": b"Content-Type: text/plain\nContent-Transfer-Encoding: ?invalid\n\n",
            "2.3": b"",
            "1.HEADER": b"",
        },
    },
    # The lab's usual Thunderbird message: alternative (GBK base64 + UTF-8 QP) + attachment.
    "lab_typical": {
        "envelope": env(
            date=b'"Mon, 14 Oct 2024 10:05:10 +0800"',
            subject=b'"=?utf-8?B?5a6e6aqM5LqM77ya6YKu5Lu25rWL6K+V?="',
            from_=b'(("=?gbk?B?1cXI/Q==?=" NIL "group1_1" "JServer.NetLab"))',
            to=b'((NIL NIL "group1_2" "JServer.NetLab")("Group One 3" NIL "group1_3" "JServer.NetLab"))',
            message_id=b'"<5f1c2a7e-1b2c-4d5e-9f00-0a1b2c3d4e5f@JServer.NetLab>"',
        ),
        "bodystructure": b'((("TEXT" "PLAIN" ("CHARSET" "gbk") NIL NIL "BASE64" SIZE LINES NIL NIL NIL NIL)'
        b'("TEXT" "HTML" ("CHARSET" "UTF-8") NIL NIL "QUOTED-PRINTABLE" SIZE LINES NIL NIL NIL NIL)'
        b' "ALTERNATIVE" ("BOUNDARY" "------------alt0123456789ABCDEF") NIL NIL NIL)'
        b'("APPLICATION" "VND.OPENXMLFORMATS-OFFICEDOCUMENT.WORDPROCESSINGML.DOCUMENT"'
        b' ("NAME" "lab2-report.docx") NIL NIL "BASE64" SIZE NIL'
        b' ("ATTACHMENT" ("FILENAME" "lab2-report.docx")) NIL NIL)'
        b' "MIXED" ("BOUNDARY" "------------mixed0123456789ABCDEF") NIL ("zh-CN") NIL)',
        "body": b'((("TEXT" "PLAIN" ("CHARSET" "gbk") NIL NIL "BASE64" SIZE LINES)'
        b'("TEXT" "HTML" ("CHARSET" "UTF-8") NIL NIL "QUOTED-PRINTABLE" SIZE LINES) "ALTERNATIVE")'
        b'("APPLICATION" "VND.OPENXMLFORMATS-OFFICEDOCUMENT.WORDPROCESSINGML.DOCUMENT"'
        b' ("NAME" "lab2-report.docx") NIL NIL "BASE64" SIZE) "MIXED")',
        "sections": {
            "1.1": b"xOO6w6Os1eLKx8q10enK0rXEsuLK1NPKvP6howrH67LpytW4vbz+oaMK\n",
            "1.1.MIME": b"Content-Type: text/plain; charset=gbk\nContent-Transfer-Encoding: base64\n\n",
            "1.3": b"",
            "HEADER.FIELDS.NOT (RECEIVED RETURN-PATH MESSAGE-ID DATE MIME-VERSION USER-AGENT"
            " CONTENT-LANGUAGE TO FROM CONTENT-TYPE)": b"Subject: =?utf-8?B?5a6e6aqM5LqM77ya6YKu5Lu25rWL6K+V?=\n\n",
            "HEADER.FIELDS (CONTENT-TYPE RECEIVED)": b"Received: from [192.168.1.10] (unknown [192.168.1.10])\n"
            b"\tby JServer.NetLab with ESMTPA; Mon, 14 Oct 2024 10:05:12 +0800\n"
            b'Content-Type: multipart/mixed;\n boundary="------------mixed0123456789ABCDEF"\n\n',
        },
        "headers": {"subject": "实验二：邮件测试", "from": "张三 <group1_1@JServer.NetLab>"},
        "search_header": [
            ("SUBJECT", "邮件", True),
            ("FROM", "张三", True),
            ("TO", "group1_3", True),
            ("SUBJECT", "report", False),
            ("X-Nothing", "", False),
            ("subject", "", True),
        ],
        "search_body": [
            ("实验室的测试", True),
            ("请查收附件", True),
            ("TEST MAIL", False),
            ("lab2-report", False),
            ("这是  实验室", False),
        ],
        "search_text": [("group1_2", True), ("请查收", True), ("absent-word", False)],
        "date": "2024-10-14T10:05:10+08:00",
    },
    # message/rfc822 attachment holding a multipart/alternative.
    "rfc822_attachment": {
        "envelope": env(
            date=b'"Tue, 1 Oct 2024 09:00:00 +0000"',
            subject=b'"Fwd: original"',
            from_=b"(" + addr("alice", "example.com", "Alice") + b")",
            to=b"(" + addr("bob", "example.com", "Bob") + b")",
            message_id=b'"<fwd-1@example.com>"',
        ),
        "bodystructure": b'(("TEXT" "PLAIN" ("CHARSET" "utf-8") NIL NIL "7BIT" SIZE LINES NIL NIL NIL NIL)'
        b'("MESSAGE" "RFC822" ("NAME" "original.eml") NIL "forwarded message" "7BIT" SIZE'
        b' ("Mon, 30 Sep 2024 18:30:00 +0200" "original" (("Carol" NIL "carol" "example.org"))'
        b' (("Carol" NIL "carol" "example.org")) (("Carol" NIL "carol" "example.org"))'
        b' ((NIL NIL "alice" "example.com")) NIL NIL "<earlier@example.com>" "<orig-7@example.org>")'
        b' (("TEXT" "PLAIN" ("CHARSET" "us-ascii") NIL NIL "7BIT" SIZE LINES NIL NIL NIL NIL)'
        b'("TEXT" "HTML" ("CHARSET" "us-ascii") NIL NIL "7BIT" SIZE LINES NIL NIL NIL NIL)'
        b' "ALTERNATIVE" ("BOUNDARY" "inner") NIL NIL NIL) LINES'
        b' NIL ("ATTACHMENT" ("FILENAME" "original.eml")) NIL NIL)'
        b' "MIXED" ("BOUNDARY" "outer") NIL NIL NIL)',
        "sections": {
            "1": b"See the attached message.",
            "2.HEADER.FIELDS (SUBJECT FROM)": b"From: Carol <carol@example.org>\nSubject: original\n\n",
            "2.1": b"Plain original.",
            "2.2": b"<p>HTML original.</p>",
            "2.2.MIME": b"Content-Type: text/html; charset=us-ascii\n\n",
            "2.TEXT": b"--inner\nContent-Type: text/plain; charset=us-ascii\n\nPlain original.\n"
            b"--inner\nContent-Type: text/html; charset=us-ascii\n\n<p>HTML original.</p>\n--inner--\n",
            "2.MIME": b'Content-Type: message/rfc822; name="original.eml"\n'
            b'Content-Disposition: attachment; filename="original.eml"\n'
            b"Content-Description: forwarded message\n\n",
            "1.MIME": b"Content-Type: text/plain; charset=utf-8\n\n",
            "1.TEXT": b"",
        },
        "search_body": [
            ("plain original", True),
            ("carol@example", True),
            ("see the ATTACHED", True),
        ],
    },
    # RFC 2231: charset/language and continuations, merged the way Dovecot reports them.
    "rfc2231_params": {
        "envelope": env(
            subject=b'"RFC 2231"',
            from_=b"(" + addr("sender", "example.com") + b")",
            to=b"(" + addr("rcpt", "example.com") + b")",
        ),
        "bodystructure": b'(("APPLICATION" "PDF" ("NAME*" "utf-8\'\'%E6%8A%A5%E5%91%8A.pdf") NIL NIL'
        b' "BASE64" SIZE NIL ("ATTACHMENT" ("FILENAME*" "utf-8\'\'%E6%8A%A5%E5%91%8A.pdf" "SIZE" "1234"))'
        b" NIL NIL)"
        b'("TEXT" "PLAIN" ("CHARSET" "us-ascii" "TITLE*" "us-ascii\'en\'This%20is%20%2A%2A%2Afun%2A%2A%2A"'
        b' "URL" "http://example.com/a-very-long-path") NIL NIL "7BIT" SIZE LINES NIL NIL NIL NIL)'
        b' "MIXED" ("BOUNDARY" "XyZ") NIL NIL NIL)',
    },
    # RFC 2047: ENVELOPE passes encoded words through; SEARCH sees them decoded.
    "rfc2047_headers": {
        "envelope": env(
            date=b'"Thu, 3 Oct 2024 12:00:00 +0800"',
            subject=b'"=?utf-8?B?5rWL6K+V?= =?utf-8?B?6YKu5Lu2?= and'
            b" =?ISO-8859-1?B?SWYgeW91IGNhbiByZWFkIHRoaXMgeW8=?="
            b' =?ISO-8859-2?B?dSB1bmRlcnN0YW5kIHRoZSBleGFtcGxlLg==?="',
            from_=b'(("=?utf-8?Q?Andr=C3=A9_Pirard?=" NIL "PIRARD" "vm1.ulg.ac.be"))',
            to=b'(("=?ISO-8859-1?Q?Keld_J=F8rn_Simonsen?=" NIL "keld" "dkuug.dk"))',
            cc=b'(("=?ISO-8859-1?Q?Olle_J=E4rnefors?=" NIL "ojarnef" "admin.kth.se"))',
        ),
        "bodystructure": b'("TEXT" "PLAIN" ("CHARSET" "utf-8") NIL NIL "8BIT" SIZE LINES NIL NIL NIL NIL)',
        "headers": {
            "subject": "测试邮件 and If you can read this you understand the example.",
            "from": "André Pirard <PIRARD@vm1.ulg.ac.be>",
            "cc": "Olle Järnefors <ojarnef@admin.kth.se>",
            "x-split": "中文",
        },
        "search_header": [
            ("subject", "测试邮件", True),
            ("SUBJECT", "understand THE", True),
            ("To", "jørn", True),
            ("from", "5rWL6K", False),
        ],
        "search_body": [("中文正文", True), ("BODY TEXT", True), ("测试邮件", False)],
        "search_text": [("测试邮件", True), ("中文正文", True)],
    },
    # RFC 5322 A.1.3 group syntax, comments, quoted names, source routes.
    "group_addresses": {
        "envelope": env(
            date=b'"Thu, 13 Feb 1969 23:32:54 -0330"',
            subject=b'"Groups, routes and comments"',
            from_=b'(("Joe Q. Public" NIL "john.q.public" "example.com"))',
            sender=b'(("Michael Jones" NIL "mjones" "machine.example"))',
            reply_to=b'(("Pete" NIL "pete" "silly.test"))',
            to=b'((NIL NIL "A Group" NIL)("Ed Jones" NIL "c" "a.test")(NIL NIL "joe" "where.test")'
            b'("John" NIL "jdoe" "one.test")(NIL NIL NIL NIL))',
            cc=b'((NIL NIL "Undisclosed recipients" NIL)(NIL NIL NIL NIL))',
            bcc=b'(("Doe, Jane" NIL "jane" "example.net")'
            b'(NIL "@relay1.example,@relay2.example" "route" "final.example")'
            b'("Only a comment" NIL "bare" "example.org"))',
            in_reply_to=b'"<parent@example.com>"',
            message_id=b'"<testabcd.1234@silly.test>"',
        ),
        "bodystructure": b"(" + TP + b" SIZE LINES " + EXT4 + b")",
        "date": "1969-02-13T23:32:54-03:30",
    },
    # No From, no Date, no Content-Type: NILs and text/plain us-ascii.
    "missing_headers": {
        "envelope": env(subject=b'"no from, no date, no type"'),
        "bodystructure": b"(" + TP + b" SIZE LINES " + EXT4 + b")",
        "body": b"(" + TP + b" SIZE LINES)",
        "sections": {
            "1": b"Just a body line.\nSecond line.\n",
            "TEXT": b"Just a body line.\nSecond line.\n",
            "1.MIME": b"Subject: no from, no date, no type\n\n",
            "2": b"",
        },
        "date": None,
    },
    # Stored with LF only: the store hands it out with CRLF, sizes are CRLF sizes.
    "bare_lf": {
        "envelope": env(
            subject=b'"bare LF"',
            from_=b"(" + addr("lf", "example.com") + b")",
            to=b"(" + addr("x", "example.com") + b")",
        ),
        "bodystructure": b"((" + TP + b" 18 1 " + EXT4 + b")"
        b'("TEXT" "HTML" ("CHARSET" "US-ASCII") NIL NIL "7BIT" 11 0 ' + EXT4 + b")"
        b' "ALTERNATIVE" ("BOUNDARY" "lf") NIL NIL NIL)',
    },
    # The last part is never closed: it runs to the end of the message.
    "no_final_boundary": {
        "envelope": env(subject=b'"truncated"', from_=A_EX, to=B_EX),
        "bodystructure": b"((" + TP + b" SIZE LINES " + EXT4 + b")"
        b'("TEXT" "PLAIN" ("CHARSET" "iso-8859-1") NIL NIL "7BIT" SIZE LINES ' + EXT4 + b")"
        b' "MIXED" ("BOUNDARY" "cut") NIL NIL NIL)',
        "sections": {"2": b"second part, never closed\nand more\n", "1": b"first part"},
    },
    "empty_body": {
        "envelope": env(subject=b'"empty"', from_=A_EX, to=B_EX),
        "bodystructure": b"(" + TP + b" 0 0 " + EXT4 + b")",
        "sections": {
            "TEXT": b"",
            "1": b"",
            "HEADER": b"From: a@example.com\nTo: b@example.com\nSubject: empty\n\n",
        },
    },
    "header_only": {
        "envelope": env(subject=b'"header only, no blank line"', from_=A_EX, to=B_EX),
        "bodystructure": b"(" + TP + b" 0 0 " + EXT4 + b")",
        "sections": {
            "TEXT": b"",
            "HEADER.FIELDS (SUBJECT)": b"Subject: header only, no blank line\n\n",
        },
    },
    # multipart/digest: parts without Content-Type are message/rfc822.
    "digest": {
        "envelope": env(
            subject=b'"Digest vol 1"',
            from_=b"(" + addr("list-request", "example.com") + b")",
            to=b"(" + addr("subscriber", "example.com") + b")",
        ),
        "bodystructure": b'(("MESSAGE" "RFC822" NIL NIL NIL "7BIT" SIZE'
        b' ("Wed, 2 Oct 2024 08:00:00 +0000" "one" ((NIL NIL "first" "example.com"))'
        b' ((NIL NIL "first" "example.com")) ((NIL NIL "first" "example.com")) NIL NIL NIL NIL NIL)'
        b" (" + TP + b" SIZE LINES " + EXT4 + b") LINES " + EXT4 + b")"
        b"(" + TP + b" SIZE LINES " + EXT4 + b")"
        b'("MESSAGE" "RFC822" NIL NIL NIL "7BIT" SIZE'
        b' (NIL "two" ((NIL NIL "second" "example.com")) ((NIL NIL "second" "example.com"))'
        b' ((NIL NIL "second" "example.com")) NIL NIL NIL NIL NIL)'
        b' ("TEXT" "PLAIN" ("CHARSET" "utf-8") NIL NIL "7BIT" SIZE LINES '
        + EXT4
        + b") LINES "
        + EXT4
        + b")"
        b' "DIGEST" ("BOUNDARY" "---- next message ----") NIL NIL NIL)',
        "sections": {
            "1.1": b"First message body.\n",
            "1.HEADER": b"From: first@example.com\nSubject: one\nDate: Wed, 2 Oct 2024 08:00:00 +0000\n\n",
            "1.MIME": b"\n",
            "3.1": b"Second message body.",
        },
    },
    # Content-Language (list), Content-Location (folded URI), Content-MD5, bare disposition.
    "language_location": {
        "envelope": env(subject=b'"language and location"', from_=A_EX),
        "bodystructure": b'(("TEXT" "HTML" ("CHARSET" "utf-8") NIL NIL "7BIT" SIZE LINES'
        b' "Q2hlY2sgSW50ZWdyaXR5IQ==" ("INLINE" NIL) ("en-US" "zh-CN") "http://example.com/pages/index.html")'
        b'("IMAGE" "PNG" NIL "<logo@example.com>" NIL "BASE64" SIZE NIL'
        b' ("INLINE" ("FILENAME" "logo.png" "CREATION-DATE" "Wed, 12 Feb 1997 16:29:51 -0500")) NIL "logo.png")'
        b' "RELATED" ("BOUNDARY" "rel" "TYPE" "text/html") NIL ("en") "http://example.com/")',
    },
    # Raw UTF-8 in headers and a parameter: literals, never mangled.
    "eightbit_headers": {
        "envelope": env(
            subject="{20}\r\n测试 8-bit subject".encode(),
            from_='(({27}\r\n=?utf-8?B?5byg5LiJ?= 张三 NIL "zhang" "example.com"))'.encode(),
            to='(({6}\r\n李四 NIL "li" "example.com"))'.encode(),
        ),
        "bodystructure": b'(("TEXT" "PLAIN" ("CHARSET" "utf-8") NIL NIL "8BIT" SIZE LINES '
        + EXT4
        + b")"
        b'("APPLICATION" "OCTET-STREAM" ("NAME" {10}\r\n'
        + "报告.txt".encode()
        + b') NIL NIL "BASE64" SIZE '
        + EXT4
        + b') "MIXED" ("BOUNDARY" "b8") NIL NIL NIL)',
        "headers": {"subject": "测试 8-bit subject", "from": "张三 张三 <zhang@example.com>"},
        "search_header": [("SUBJECT", "测试", True), ("From", "张三 张三", True)],
        "search_body": [("你好", True)],
    },
    # Three levels: mixed > related > alternative, QP soft line break decoded for SEARCH.
    "nested_related": {
        "envelope": env(subject=b'"three levels"', from_=A_EX, to=B_EX),
        "bodystructure": b'(((("TEXT" "PLAIN" ("CHARSET" "utf-8") NIL NIL "QUOTED-PRINTABLE" SIZE LINES '
        + EXT4
        + b')("TEXT" "HTML" ("CHARSET" "utf-8") NIL NIL "7BIT" SIZE LINES '
        + EXT4
        + b")"
        b' "ALTERNATIVE" ("BOUNDARY" "L3") NIL NIL NIL)'
        b'("IMAGE" "GIF" NIL "<pic@x>" NIL "BASE64" SIZE ' + EXT4 + b")"
        b' "RELATED" ("BOUNDARY" "L2") NIL NIL NIL)'
        b'("TEXT" "CSV" ("CHARSET" "us-ascii" "NAME" "data.csv") NIL NIL "7BIT" SIZE LINES'
        b' NIL ("ATTACHMENT" ("FILENAME" "data.csv")) NIL NIL)'
        b' "MIXED" ("BOUNDARY" "L1") NIL NIL NIL)',
        "sections": {
            "1.1.2": b'<p>Caf&eacute;</p><img src="cid:pic@x">',
            "1.2.MIME": b"Content-Type: image/gif\nContent-ID: <pic@x>\nContent-Transfer-Encoding: base64\n\n",
            "1.1.3": b"",
            "1.1.1.1": b"Caf=C3=A9 au lait, soft=\n break.",
            "2": b"a,b\n1,2",
        },
        "search_body": [("café au lait, soft break", True), ("1,2", True), ("R0lGOD", False)],
    },
    # A multipart without a boundary parameter is shown as text/plain.
    "multipart_no_boundary": {
        "envelope": env(subject=b'"multipart without boundary"', from_=A_EX),
        "bodystructure": b"(" + TP + b" SIZE LINES " + EXT4 + b")",
        "sections": {
            "1": b"--whatever\nContent-Type: text/plain\n\nnot really a part\n--whatever--\n"
        },
    },
    # An unparsable Content-Type falls back to text/plain; an unknown but valid CTE is kept.
    "invalid_content_type": {
        "envelope": env(subject=b'"garbage type"', from_=A_EX),
        "bodystructure": b'("TEXT" "PLAIN" ("CHARSET" "US-ASCII") NIL NIL "X-UUENCODE" SIZE LINES '
        + EXT4
        + b")",
    },
    # Transport padding after delimiters, preamble and epilogue.
    "padding_preamble": {
        "envelope": env(subject=b'"padding"', from_=A_EX),
        "bodystructure": b"((" + TP + b" SIZE LINES " + EXT4 + b")"
        b'("TEXT" "PLAIN" ("CHARSET" "us-ascii") NIL NIL "7BIT" SIZE LINES ' + EXT4 + b")"
        b' "MIXED" ("BOUNDARY" "----=_Part_0_1234.5678") NIL NIL NIL)',
        "sections": {"2": b"Part two, trailing blank line kept.\n\n"},
    },
    # The outer boundary is a prefix of the inner one.
    "prefix_boundary": {
        "envelope": env(subject=b'"boundary that prefixes another"', from_=A_EX),
        "bodystructure": b"((("
        + TP
        + b" SIZE LINES "
        + EXT4
        + b")("
        + TP
        + b" SIZE LINES "
        + EXT4
        + b")"
        b' "ALTERNATIVE" ("BOUNDARY" "abcdef") NIL NIL NIL)(' + TP + b" SIZE LINES " + EXT4 + b")"
        b' "MIXED" ("BOUNDARY" "abc") NIL NIL NIL)',
        "sections": {"1.2": b"inner two", "2": b"outer two"},
    },
    # A part header that runs straight into the next delimiter has no body.
    "header_cut": {
        "envelope": env(subject=b'"part header runs into the next delimiter"', from_=A_EX),
        "bodystructure": b"((" + TP + b" 0 0 " + EXT4 + b")(" + TP + b" SIZE LINES " + EXT4 + b")"
        b' "MIXED" ("BOUNDARY" "hc") NIL NIL NIL)',
        "sections": {"1": b"", "2": b"real body"},
    },
    # Comments and blanks inside MIME header values; the From comment is the display name.
    "comments_params": {
        "envelope": env(
            subject=b'"comments in MIME headers"',
            from_=b'(("Alice Example" NIL "a" "example.com"))',
        ),
        "bodystructure": b'("TEXT" "PLAIN" ("CHARSET" "ISO-8859-1" "FORMAT" "flowed") "<id1@example.com>" NIL'
        b' "QUOTED-PRINTABLE" SIZE LINES ' + EXT4 + b")",
        "search_body": [("café crème", True)],
    },
    # A multipart whose boundary never appears still has one (empty) part, as Dovecot shows.
    "empty_multipart": {
        "envelope": env(subject=b'"multipart with no parts"', from_=A_EX),
        "bodystructure": b"(("
        + TP
        + b" 0 0 "
        + EXT4
        + b') "MIXED" ("BOUNDARY" "never-used") NIL NIL NIL)',
        "sections": {"1": b"", "TEXT": b"There is no delimiter in here at all.\n"},
        "skip_reference": True,
    },
    # The whole message body is an encapsulated message.
    "toplevel_rfc822": {
        "envelope": env(
            subject=b'"whole message is message/rfc822"', from_=b'((NIL NIL "outer" "example.com"))'
        ),
        "bodystructure": b'("MESSAGE" "RFC822" NIL NIL NIL "7BIT" SIZE'
        b' (NIL "inner" ((NIL NIL "inner" "example.com")) ((NIL NIL "inner" "example.com"))'
        b' ((NIL NIL "inner" "example.com")) NIL NIL NIL NIL NIL)'
        b" (" + TP + b" SIZE LINES " + EXT4 + b") LINES " + EXT4 + b")",
        "sections": {
            "1": b"From: inner@example.com\nSubject: inner\nContent-Type: text/plain\n\ninner text\n",
            "1.HEADER.FIELDS (SUBJECT)": b"Subject: inner\n\n",
            "1.1": b"inner text\n",
            "1.TEXT": b"inner text\n",
        },
    },
    # Charset names Python has codecs for but cannot decode text with (bytes-to-bytes
    # codecs, "undefined", "idna"): passed through as written, searched by guessing.
    "hostile_charsets": {
        "envelope": env(
            subject=b'"=?base64?Q?caf=C3=A9?= =?undefined?B?bWVudQ==?= plain"', from_=A_EX
        ),
        "bodystructure": b'(("TEXT" "PLAIN" ("CHARSET" "base64") NIL NIL "7BIT" SIZE LINES '
        + EXT4
        + b')("TEXT" "PLAIN" ("CHARSET" "undefined") NIL NIL "QUOTED-PRINTABLE" SIZE LINES '
        + EXT4
        + b')("TEXT" "PLAIN" ("CHARSET" "idna") NIL NIL "7BIT" SIZE LINES '
        + EXT4
        + b') "MIXED" ("BOUNDARY" "cs") NIL NIL NIL)',
        "search_header": [("SUBJECT", "cafémenu plain", True), ("SUBJECT", "absent", False)],
        "search_body": [
            ("speaks rot13", True),
            ("second 中 part", True),
            ("part..idna", True),
            ("absent", False),
        ],
        "search_text": [("café", True), ("absent", False)],
    },
}
