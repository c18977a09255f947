"""mailserver: one process serving SMTP, POP3 and IMAP over a shared maildir store."""

__version__ = "0.1.0"

# Before any compiled module can be imported: fall back to the sources when a
# compiled one is out of date (see native.py).
from mailserver import native as _native

_native.guard()
