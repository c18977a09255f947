"""The modules compiled to C extensions with mypyc, and the guard against stale ones.

The cold ``FETCH 1:* (ENVELOPE BODYSTRUCTURE)`` of a big folder is mostly
the MIME parse, which is already regex- and memo-tuned pure Python.
``scripts/build_native.py`` (run by ``scripts/install.sh``) compiles the
modules listed in :data:`MODULES` with mypyc (part of mypy; mypy and black
ship compiled this way) into ``<module>.cpython-*.so`` files next to their
sources, which Python imports in preference to the ``.py`` files. Nothing
else changes: the same source runs either way, and without a C compiler the
pure-Python modules are used.

A compiled module built from an older source must never shadow an edited
``.py`` silently. The build writes :data:`STAMP` (the sources' SHA-256s);
:func:`guard`, run when the ``mailserver`` package is imported, compares
them with the sources, and if any compiled module is out of date it makes
Python load *all* of them from source (they call each other directly inside
the compiled library, so a mix is not possible) and remembers why, which
the server logs at start and the test suite turns into a failure.
"""

from __future__ import annotations

import hashlib
import importlib.machinery
import importlib.util
import json
import os
import sys
from collections.abc import Sequence
from pathlib import Path
from types import ModuleType

#: Compiled modules, in one place (the build script, the guard and the tests read it).
MODULES: tuple[str, ...] = (
    "mailserver.imap.wire",
    "mailserver.imap.mime.addresses",
    "mailserver.imap.mime.headers",
    "mailserver.imap.mime.memo",
    "mailserver.imap.mime.message",
    "mailserver.imap.mime.render",
    "mailserver.imap.mime.structure",
    "mailserver.imap.mime.tree",
    # The parse helpers' per-message glue (read, convert, parse, entry line).
    "mailserver.imap.mime.parsehelper",
    "mailserver.lineends",
)
#: mypyc's shared library holding the compiled code of every module above
#: (each module's own extension is a small shim that imports it).
GROUP = "mailserver.imap.mime._native"
PACKAGE_DIR = Path(__file__).resolve().parent
ROOT = PACKAGE_DIR.parent
#: The build's record of the sources it compiled (JSON: module -> SHA-256).
STAMP = PACKAGE_DIR / "imap" / "mime" / "_native.stamp"
#: How to get fresh compiled modules (named in every warning about them).
REBUILD = "run scripts/install.sh (or: .venv/bin/python scripts/build_native.py)"

#: Set to 1 to run the pure-Python modules although compiled ones are present
#: (the tests compare the two; also a way to rule the compiled code out).
PURE_ENV = "MAILSERVER_PURE_PYTHON"
#: Why the compiled modules are not used although present; set by :func:`guard`.
stale_reason: str | None = None


def source_path(module: str) -> Path:
    return ROOT.joinpath(*module.split(".")).with_suffix(".py")


def extension_path(module: str) -> Path:
    """Where the compiled module for this interpreter lives (whether or not it exists)."""
    suffix = importlib.machinery.EXTENSION_SUFFIXES[0]
    return ROOT.joinpath(*module.split(".")).with_name(module.rsplit(".", 1)[1] + suffix)


def source_hashes(modules: Sequence[str] = MODULES) -> dict[str, str]:
    return {m: hashlib.sha256(source_path(m).read_bytes()).hexdigest() for m in modules}


def read_stamp() -> dict[str, str] | None:
    """The module -> SHA-256 map the last build compiled; None if missing or unreadable."""
    try:
        value = json.loads(STAMP.read_text())
    except (OSError, ValueError):
        return None
    if not isinstance(value, dict) or not all(isinstance(v, str) for v in value.values()):
        return None
    return value


def present() -> list[str]:
    """The modules of :data:`MODULES` with a compiled extension on disk."""
    return [m for m in MODULES if extension_path(m).exists()]


def stale() -> str | None:
    """Why the compiled modules on disk must not be used, or None if they are fine
    (or absent)."""
    compiled = present()
    if not compiled and not extension_path(GROUP + "__mypyc").exists():
        return None
    stamp = read_stamp()
    if stamp is None:
        return f"compiled modules without a readable {STAMP.name}"
    if set(compiled) != set(MODULES):
        missing = sorted(set(MODULES) - set(compiled))
        return "compiled modules missing: " + ", ".join(missing)
    changed = [m for m, digest in source_hashes().items() if stamp.get(m) != digest]
    if changed:
        return "source changed since compiled: " + ", ".join(changed)
    return None


def in_use() -> list[str]:
    """The modules of :data:`MODULES` imported from a compiled extension."""
    return [
        m
        for m in MODULES
        if m in sys.modules and not str(getattr(sys.modules[m], "__file__", "")).endswith(".py")
    ]


class _SourceFinder:
    """Finds the modules of :data:`MODULES` as their ``.py`` files only (a meta
    path finder; not derived from ``importlib.abc``, whose import costs every
    ``mailserver`` command 8 ms)."""

    def find_spec(
        self, fullname: str, path: Sequence[str] | None, target: ModuleType | None = None
    ) -> importlib.machinery.ModuleSpec | None:
        if fullname not in MODULES:
            return None
        return importlib.util.spec_from_file_location(fullname, source_path(fullname))


def guard() -> None:
    """Load the listed modules from source if their compiled versions are out of
    date, or if :data:`PURE_ENV` is set (called once, when ``mailserver`` is
    imported, before any of them is)."""
    global stale_reason
    stale_reason = stale()
    pure = os.environ.get(PURE_ENV, "") not in ("", "0")
    if (stale_reason is not None or pure) and not any(
        isinstance(f, _SourceFinder) for f in sys.meta_path
    ):
        sys.meta_path.insert(0, _SourceFinder())


def describe() -> tuple[bool, str]:
    """(all is well, one line for the log) about the compiled modules."""
    if stale_reason is not None:
        return False, f"compiled parse modules NOT used ({stale_reason}); {REBUILD}"
    used = in_use()
    if used:
        return True, f"parse modules: compiled with mypyc ({len(used)} modules)"
    if present():
        return True, f"parse modules: pure Python ({PURE_ENV} set)"
    return True, "parse modules: pure Python (not compiled)"
