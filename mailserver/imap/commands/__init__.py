"""Command handlers, grouped by the state they run in; ``dispatch.py`` maps names to them.

Each handler takes the session and its parsed command, sends any untagged
data itself, and returns the tagged completion (or raises ``ImapError`` /
``StorageError``, which the session maps in one place).
"""
