"""The mypyc-compiled parse modules (mailserver/native.py, scripts/build_native.py).

* After ``scripts/install.sh`` they are really the ones imported (so a test
  run cannot silently fall back to pure Python).
* They answer exactly what the pure-Python sources do: the same parses run
  in two subprocesses, one with the compiled modules and one with
  ``MAILSERVER_PURE_PYTHON=1``, must print the same digest.
* A compiled module older than its source is never used: the package falls
  back to the sources for all of them and says why.
* Building again when nothing changed does nothing.

Running the pure parse in another process is the honest comparison: in this
process the compiled modules are already imported and call one another
directly, so no mix of the two can be loaded here.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from mailserver import native

ROOT = Path(__file__).resolve().parents[2]
PURE = os.environ.get(native.PURE_ENV, "") not in ("", "0")

# Parses every corpus message (as stored, CRLF and LF), 1,500 generated ones
# (tests/unit/imap/mime/test_memo.py's generator) and random header blocks
# and address lists, and prints which modules are compiled and a digest of
# every result.
PROGRAM = r"""
import hashlib, json, random, sys
from pathlib import Path
from mailserver import native
from mailserver.imap.mime.addresses import parse_address_list
from mailserver.imap.mime.headers import decode_header_text, parse_fields, parse_param_value
from mailserver.imap.mime.message import ParsedMessage
from tests.unit.imap.mime import test_memo

digest = hashlib.sha256()
def add(value):
    digest.update(repr(value).encode("utf-8", "surrogateescape"))

def from_text(text):
    try:
        return ParsedMessage.from_entry_text(text).to_json()
    except (ValueError, TypeError, UnicodeError) as exc:
        return type(exc).__name__

for data in test_memo._corpus():
    parsed = ParsedMessage.parse(data)
    add(parsed.to_json())
    add([(f.name, f.raw, f.value) for f in parsed.fields])
    text = parsed.entry_text()
    add(text)
    add(from_text(text))
    fields = text.split("\t")
    # Sidecar entries gone bad: each must fail (or load) the same way.
    tree = json.loads(fields[1])
    for index, bad in ((0, -1), (1, 10**9), (3, 7), (4, 1), (6, [[]]), (6, "ab"), (7, [])):
        broken = json.dumps(tree[:index] + [bad] + tree[index + 1 :])
        add(from_text("\t".join([fields[0], broken, *fields[2:]])))
    bads = ((0, "-1"), (0, "\u00b2"), (0, ""), (1, "[1]"), (1, "{"), (2, "%0"), (5, "%%"))
    for index, bad in bads:
        add(from_text("\t".join(fields[:index] + [bad] + fields[index + 1 :])))
    add(from_text(text + "\tx"))
    add(from_text(text.rpartition("\t")[0]))
rng = random.Random(4)
for _ in range(1500):
    text = test_memo._message(rng).encode("utf-8")
    for data in (text, text.replace(b"\r\n", b"\n")):
        add(ParsedMessage.parse(data).to_json())
alphabet = '<>@,;:"()\\ .=?aZ\u00e9\t\r\n'
for _ in range(3000):
    value = "".join(rng.choice(alphabet) for _ in range(rng.randint(0, 30)))
    add(parse_address_list(value))
    add(parse_param_value(value))
    add(decode_header_text(value))
    add([(f.raw, f.value) for f in parse_fields(value.encode("utf-8", "surrogateescape"))])
# The parse helpers' glue: files read, converted, parsed and appended as entries.
import tempfile
from mailserver.imap.mime import parsehelper
from mailserver.lineends import to_wire
with tempfile.TemporaryDirectory() as scratch:
    items = []
    for number, data in enumerate(test_memo._corpus()[:60]):
        path = Path(scratch) / f"m{number}"
        path.write_bytes(data)
        items.append((str(path), len(to_wire(data)) - number % 2, f"k{number}"))
    items.append((str(Path(scratch) / "gone"), 10, "gone"))
    add(parsehelper.parse_batch(str(Path(scratch) / "sidecar"), items))
    add((Path(scratch) / "sidecar").read_bytes())
print(json.dumps({"in_use": native.in_use(), "digest": digest.hexdigest()}))
"""


def _run(extra_env: dict[str, str], pythonpath: Path = ROOT) -> dict[str, object]:
    env = {k: v for k, v in os.environ.items() if k != native.PURE_ENV}
    env.update(extra_env, PYTHONPATH=str(pythonpath))
    result = subprocess.run(
        [sys.executable, "-c", PROGRAM],
        cwd=pythonpath,
        env=env,
        capture_output=True,
        text=True,
        timeout=240,
    )
    assert result.returncode == 0, result.stderr[-3000:]
    value: dict[str, object] = json.loads(result.stdout.splitlines()[-1])
    return value


def test_the_compiled_modules_are_in_use() -> None:
    if PURE:
        pytest.skip(f"{native.PURE_ENV} is set: testing the pure-Python modules on purpose")
    # The parse modules, and the helpers' glue (which imports the others).
    import mailserver.imap.mime.parsehelper  # noqa: F401

    assert native.in_use() == list(native.MODULES), (
        f"the parse modules are not compiled: {native.REBUILD}"
    )
    assert native.describe() == (
        True,
        f"parse modules: compiled with mypyc ({len(native.MODULES)} modules)",
    )


def test_the_pure_python_modules_give_identical_results() -> None:
    if PURE:
        pytest.skip(f"{native.PURE_ENV} is set: nothing compiled to compare with")
    compiled = _run({})
    pure = _run({native.PURE_ENV: "1"})
    assert compiled["in_use"] == list(native.MODULES)
    assert pure["in_use"] == []
    assert compiled["digest"] == pure["digest"]


def _copy_package(target: Path) -> None:
    """The package with its compiled modules and stamp (no tests, no caches)."""
    shutil.copytree(
        ROOT / "mailserver",
        target / "mailserver",
        ignore=shutil.ignore_patterns("__pycache__", "templates", "static"),
    )


STATUS = (
    "import json, mailserver.imap.mime.message, mailserver.imap.mime.parsehelper\n"
    "from mailserver import native\n"
    "print(json.dumps([native.in_use(), native.stale_reason, native.describe()]))"
)


def _status(root: Path) -> list[object]:
    env = {k: v for k, v in os.environ.items() if k != native.PURE_ENV}
    env["PYTHONPATH"] = str(root)
    result = subprocess.run(
        [sys.executable, "-c", STATUS], cwd=root, env=env, capture_output=True, text=True
    )
    assert result.returncode == 0, result.stderr[-3000:]
    value: list[object] = json.loads(result.stdout)
    return value


def test_a_compiled_module_older_than_its_source_is_not_used(tmp_path: Path) -> None:
    if PURE or not native.present():
        pytest.skip("no compiled modules to go stale")
    _copy_package(tmp_path)
    in_use, reason, _ = _status(tmp_path)
    assert in_use == list(native.MODULES) and reason is None  # the copy works as it is
    headers = tmp_path / "mailserver" / "imap" / "mime" / "headers.py"
    headers.write_text(headers.read_text() + "\n# edited\n")
    in_use, reason, (fine, line) = _status(tmp_path)  # type: ignore[misc]
    assert in_use == []  # all of them from source, not just the edited one
    assert reason == "source changed since compiled: mailserver.imap.mime.headers"
    assert not fine and "NOT used" in line and "scripts/install.sh" in line
    (tmp_path / "mailserver" / "imap" / "mime" / "_native.stamp").unlink()
    in_use, reason, _ = _status(tmp_path)
    assert in_use == [] and reason == "compiled modules without a readable _native.stamp"


def test_building_again_without_changes_does_nothing() -> None:
    if PURE or not native.present():
        pytest.skip("nothing compiled")
    before = {p: p.stat().st_mtime_ns for p in native.ROOT.rglob("*.so")}
    result = subprocess.run(
        [sys.executable, str(ROOT / "scripts" / "build_native.py")],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 0 and result.stdout == "" and result.stderr == ""
    assert {p: p.stat().st_mtime_ns for p in native.ROOT.rglob("*.so")} == before


def test_without_a_compiler_the_build_warns_and_the_sources_run(tmp_path: Path) -> None:
    if PURE or not native.present():
        pytest.skip("nothing compiled to fall back from")
    _copy_package(tmp_path)
    (tmp_path / "scripts").mkdir()
    shutil.copy(ROOT / "scripts" / "build_native.py", tmp_path / "scripts")
    env = {k: v for k, v in os.environ.items() if k != native.PURE_ENV}
    env["PATH"] = str(tmp_path / "no-such-bin")  # no gcc to be found
    result = subprocess.run(
        [sys.executable, str(tmp_path / "scripts" / "build_native.py"), "--force"],
        capture_output=True,
        text=True,
        env=env,
        timeout=60,
    )
    assert result.returncode == 0
    assert "no C compiler" in result.stderr and "pure-Python modules are used" in result.stderr
    assert not list((tmp_path / "mailserver").rglob("*.so"))  # none left to go stale
    in_use, reason, (fine, line) = _status(tmp_path)  # type: ignore[misc]
    assert in_use == [] and reason is None and fine
    assert line == "parse modules: pure Python (not compiled)"
