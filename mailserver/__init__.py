"""mailserver: one process serving SMTP, POP3 and IMAP over a shared maildir store."""

__version__ = "0.1.0"
