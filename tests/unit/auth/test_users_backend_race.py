"""Two verify threads at a process's first logins: passlib's lazy set-up must not turn
one of them into an internal error (issue #13's rare ``NO [SERVERBUG]``).

passlib sets two things up at their first use: a scheme's backend (a thread
that had already looked up the lazy-loading stub when another finished
loading the backend raised ``AssertionError``, "failed to replace lazy
loader") and the shared hash64 encoder (the second thread's set-up raised
``AttributeError`` on ``_lazy_opts``). The interleavings are forced here,
not left to luck: the second thread is held inside the lazy step until the
first thread's whole verify has done that step itself.

It runs in a fresh interpreter because the backend choice is process-wide
class state: in the test process some earlier test may already have made it,
and then the old code would pass too.
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from mailserver.auth import UserDatabase

SCENARIO = r"""
import importlib
import sys
import threading
from pathlib import Path

from mailserver.auth import UserDatabase

module_name, class_name, method_name = sys.argv[2:5]
owner = getattr(importlib.import_module(module_name), class_name)
db = UserDatabase(Path(sys.argv[1]))
stored = db.password_hash("alice")
inside = threading.Event()
first_done = threading.Event()
raw = owner.__dict__[method_name]
is_classmethod = isinstance(raw, classmethod)
original = raw.__func__ if is_classmethod else raw


def held(self_or_cls):
    # Only the thread named "second" waits here, and only if it ever gets here.
    if threading.current_thread().name == "second":
        inside.set()
        first_done.wait(60)
    return original(self_or_cls)


setattr(owner, method_name, classmethod(held) if is_classmethod else held)
results = {}


def verify(name):
    try:
        results[name] = db.verify_hash("right-pw", stored)
    except Exception as exc:
        results[name] = f"{type(exc).__name__}: {exc}"


second = threading.Thread(target=verify, args=("second",), name="second")
second.start()
# Until the second thread is inside the lazy step, or has finished without it.
while not inside.wait(0.01) and second.is_alive():
    pass
verify("first")
first_done.set()
second.join(60)
print("lazy step entered" if inside.is_set() else "lazy step not entered")
print("first", results.get("first"))
print("second", results.get("second"))
"""


@pytest.mark.parametrize(
    "lazy_step",
    [
        # The backend choice: the stub that loads a backend at the first hash or verify.
        ("passlib.utils.handlers", "BackendMixin", "_stub_requires_backend"),
        # The shared hash64 encoder sha512_crypt's checksum goes through.
        ("passlib.utils.binary", "LazyBase64Engine", "_lazy_init"),
    ],
    ids=["backend", "h64"],
)
def test_verify_threads_racing_passlibs_lazy_set_up_both_succeed(
    tmp_path: Path, lazy_step: tuple[str, str, str]
) -> None:
    path = tmp_path / "users.yaml"
    UserDatabase(path).add_many([("alice", "right-pw")])
    result = subprocess.run(
        [sys.executable, "-c", SCENARIO, str(path), *lazy_step],
        capture_output=True,
        text=True,
        timeout=120,
        check=True,
    )
    lines = result.stdout.splitlines()
    assert lines[1:] == ["first True", "second True"], result.stdout + result.stderr
    # The set-up is done when the database is opened, so no verify goes through it.
    assert lines[0] == "lazy step not entered"
