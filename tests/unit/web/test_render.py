"""Turning hostile mail into something a page can show (no browser needed here)."""

from __future__ import annotations

from mailserver.web.mail.render import part_bytes, render, safe_filename, sanitize_html


def test_sanitizer_removes_active_content() -> None:
    html, blocked = sanitize_html(
        '<p onclick="x()">hi<script>alert(1)</script></p>'
        '<a href="javascript:alert(1)">j</a><a href="https://example.org/">ok</a>'
        '<img src="http://tracker.example/p.gif"><img src="data:image/png;base64,AAAA">'
        '<img src="data:image/svg+xml;base64,PHN2Zz4=">'
        '<div style="width:expression(alert(1))">c</div>'
        "<form action=/x><input name=a></form><iframe src=/x></iframe><style>*{}</style>"
    )
    lowered = html.lower()
    for bad in (
        "script",
        "onclick",
        "javascript:",
        "tracker.example",
        "svg",
        "expression",
        "<form",
        "<input",
        "<iframe",
        "<style",
    ):
        assert bad not in lowered, bad
    assert blocked
    assert 'src="data:image/png;base64,AAAA"' in html
    assert 'href="https://example.org/"' in html and 'rel="noopener noreferrer nofollow"' in html


def test_render_picks_html_and_lists_attachments() -> None:
    data = (
        b"Subject: =?utf-8?b?5a6e6aqM?=\r\nFrom: a@b\r\nMIME-Version: 1.0\r\n"
        b'Content-Type: multipart/mixed; boundary="b"\r\n\r\n'
        b'--b\r\nContent-Type: multipart/alternative; boundary="c"\r\n\r\n'
        b"--c\r\nContent-Type: text/plain\r\n\r\nplain\r\n"
        b"--c\r\nContent-Type: text/html\r\n\r\n<b>rich</b><script>x</script>\r\n--c--\r\n"
        b"--b\r\nContent-Type: application/pdf\r\n"
        b'Content-Disposition: attachment; filename="C:\\\\x\\\\r.pdf"\r\n'
        b"Content-Transfer-Encoding: base64\r\n\r\nJVBERg==\r\n--b--\r\n"
    )
    shown = render(data)
    assert shown.subject == "实验"
    assert shown.html is not None and "<b>rich</b>" in shown.html and "script" not in shown.html
    (attachment,) = shown.attachments
    assert attachment.filename == "r.pdf" and attachment.size == 4
    found = part_bytes(data, attachment.index)
    assert found is not None and found[1] == b"%PDF"


def test_malformed_mime_and_unknown_charset_do_not_raise() -> None:
    data = (
        b"Subject: broken\r\nContent-Type: multipart/mixed; boundary=zz\r\n\r\n"
        b"--zz\r\nContent-Type: text/plain; charset=x-no-such\r\n"
        b"Content-Transfer-Encoding: base64\r\n\r\n"
        b"!!!not base64\r\n"
    )
    shown = render(data)
    assert shown.subject == "broken"
    assert shown.text is not None


def test_safe_filename() -> None:
    from email.message import EmailMessage

    part = EmailMessage()
    part["Content-Disposition"] = 'attachment; filename="../../etc/pa\\"ss\x07wd"'
    assert safe_filename(part, 3) == "passwd"  # no path, no quote, no control character
    empty = EmailMessage()
    empty.set_content(b"x", maintype="application", subtype="zip")
    assert safe_filename(empty, 5) == "part-5.zip"
