"""Compile the modules of mailserver/native.py's MODULES with mypyc (run by install.sh).

Usage: ``.venv/bin/python scripts/build_native.py [--force | --clean]``

* Nothing to do (prints nothing) when the stamp matches the sources and
  every compiled module is present, so a second install costs nothing.
* Builds from a copy of the package's ``.py`` files in ``build/native/``
  (mypyc runs setuptools, which must not read the project's pyproject.toml,
  and a half-written copy must not be imported), then moves each extension
  into place by rename (a running server keeps the one it mapped) and
  writes the stamp last.
* Without mypyc, a C compiler or the Python headers, or when the build
  fails, it warns, removes any compiled modules (the pure-Python ones are
  used; the server works either way) and exits 0.
* ``--clean`` removes the compiled modules and the stamp.
* ``--missing-packages`` prints the Debian packages the build lacks (a C
  compiler, the Python headers), for ``scripts/install-build-tools.sh``.
"""

from __future__ import annotations

import argparse
import contextlib
import hashlib
import importlib.util
import json
import os
import shlex
import shutil
import subprocess
import sys
import sysconfig
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from mailserver import native  # noqa: E402

BUILD_DIR = ROOT / "build" / "native"

SETUP = """
import sys
from setuptools import setup
from mypyc.build import mypycify
paths, group = sys.argv[1].split(","), sys.argv[2]
del sys.argv[1:3]
setup(name="mailserver-native", ext_modules=mypycify(paths, group_name=group, opt_level="3"))
"""


def warn(message: str) -> None:
    print(f"build_native: WARNING: {message}; the pure-Python modules are used", file=sys.stderr)


def compiled_files() -> list[Path]:
    return [native.extension_path(m) for m in (*native.MODULES, native.GROUP + "__mypyc")]


def clean() -> None:
    native.STAMP.unlink(missing_ok=True)
    for path in compiled_files():
        path.unlink(missing_ok=True)


def up_to_date() -> bool:
    return native.read_stamp() == native.source_hashes() and all(
        p.exists() for p in compiled_files()
    )


def compiler() -> str:
    return shlex.split(sysconfig.get_config_var("CC") or "cc")[0]


def headers() -> Path:
    return Path(sysconfig.get_paths()["include"]) / "Python.h"


def missing_packages() -> list[str]:
    """Debian packages that would provide what the build lacks. (Debian's
    python3-dev has the headers of Debian's python3; another Python, such as
    a pyenv or python.org build, brings its own.)"""
    out = []
    if shutil.which(compiler()) is None:
        out += ["gcc", "libc6-dev"]
    if not headers().exists():
        out.append("python3-dev")
    return out


def missing_tools() -> str | None:
    if importlib.util.find_spec("mypyc") is None:
        return "mypyc (part of mypy) is not installed"
    if shutil.which(compiler()) is None:
        return f"no C compiler ({compiler()}; Debian: apt-get install gcc libc6-dev)"
    if not headers().exists():
        return f"no Python headers ({headers()}; Debian: apt-get install python3-dev)"
    return None


def build() -> bool:
    """Compile into BUILD_DIR and move the results into the package; False on failure."""
    src = BUILD_DIR / "src"
    if src.exists():
        shutil.rmtree(src)
    shutil.copytree(
        ROOT / "mailserver",
        src / "mailserver",
        ignore=lambda _d, names: (
            [n for n in names if not n.endswith(".py") and not (Path(_d) / n).is_dir()]
            + ["__pycache__"]
        ),
    )
    # The stamp records what was compiled: the copy, not the sources, which may
    # change while mypyc runs (the guard then sees them as newer).
    hashes = {
        m: hashlib.sha256(src.joinpath(*m.split(".")).with_suffix(".py").read_bytes()).hexdigest()
        for m in native.MODULES
    }
    paths = [str(Path(*m.split(".")).with_suffix(".py")) for m in native.MODULES]
    result = subprocess.run(
        [sys.executable, "-c", SETUP, ",".join(paths), native.GROUP, "build_ext", "--inplace"],
        cwd=src,
        capture_output=True,
        text=True,
        env={**os.environ, "MYPY_CACHE_DIR": str(BUILD_DIR / "mypy_cache")},
    )
    if result.returncode != 0:
        sys.stderr.write((result.stdout + result.stderr)[-4000:])
        return False
    native.STAMP.unlink(missing_ok=True)
    for target in compiled_files():
        built = src / target.relative_to(ROOT)
        temporary = target.with_name(target.name + ".new")
        shutil.copyfile(built, temporary)
        os.replace(temporary, target)
    temporary = native.STAMP.with_name(native.STAMP.name + ".new")
    temporary.write_text(json.dumps(hashes, indent=1, sort_keys=True) + "\n")
    os.replace(temporary, native.STAMP)
    return True


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    group = parser.add_mutually_exclusive_group()
    group.add_argument("--force", action="store_true", help="rebuild even if up to date")
    group.add_argument("--clean", action="store_true", help="remove the compiled modules")
    group.add_argument(
        "--missing-packages", action="store_true", help="print the Debian packages missing"
    )
    args = parser.parse_args()
    if args.missing_packages:
        print(" ".join(missing_packages()))
        return 0
    if args.clean:
        clean()
        return 0
    if not args.force and up_to_date():
        return 0
    problem = missing_tools()
    if problem is not None:
        with contextlib.suppress(OSError):
            clean()
        warn(problem)
        return 0
    print("build_native: compiling the parse modules with mypyc (about 10 s)", flush=True)
    try:
        built = build()
    except OSError as exc:  # e.g. a checkout this user cannot write to
        print(f"build_native: {exc}", file=sys.stderr)
        built = False
    if not built:
        with contextlib.suppress(OSError):
            clean()
        warn("the mypyc build failed (output above)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
