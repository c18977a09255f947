"""Two verify threads at a process's first logins: passlib's lazy backend choice must
not turn one of them into an internal error (issue #13's rare ``NO [SERVERBUG]``).

passlib picks a scheme's backend at its first use. A thread that has already
looked up the lazy-loading stub when another thread finishes loading the
backend used to raise ``AssertionError`` ("failed to replace lazy loader").
The interleaving is forced here, not left to luck: the second thread is held
inside the stub until the first thread's verify has loaded the backend.

It runs in a fresh interpreter because the backend choice is process-wide
class state: in the test process some earlier test may already have made it,
and then the old code would pass too.
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

from mailserver.auth import UserDatabase

SCENARIO = r"""
import sys
import threading
from pathlib import Path

from passlib.utils.handlers import BackendMixin

from mailserver.auth import UserDatabase

db = UserDatabase(Path(sys.argv[1]))
stored = db.password_hash("alice")
inside = threading.Event()
first_done = threading.Event()
original = BackendMixin.__dict__["_stub_requires_backend"].__func__


def held(cls):
    # Only the thread named "second" waits here, and only if it ever gets here.
    if threading.current_thread().name == "second":
        inside.set()
        first_done.wait(60)
    return original(cls)


BackendMixin._stub_requires_backend = classmethod(held)
results = {}


def verify(name):
    try:
        results[name] = db.verify_hash("right-pw", stored)
    except Exception as exc:
        results[name] = f"{type(exc).__name__}: {exc}"


second = threading.Thread(target=verify, args=("second",), name="second")
second.start()
# Until the second thread is inside the lazy stub, or has finished without it.
while not inside.wait(0.01) and second.is_alive():
    pass
verify("first")
first_done.set()
second.join(60)
print("stub entered" if inside.is_set() else "stub not entered")
print("first", results.get("first"))
print("second", results.get("second"))
"""


def test_verify_threads_racing_the_backend_choice_both_succeed(tmp_path: Path) -> None:
    path = tmp_path / "users.yaml"
    UserDatabase(path).add_many([("alice", "right-pw")])
    result = subprocess.run(
        [sys.executable, "-c", SCENARIO, str(path)],
        capture_output=True,
        text=True,
        timeout=120,
        check=True,
    )
    lines = result.stdout.splitlines()
    assert lines[1:] == ["first True", "second True"], result.stdout + result.stderr
    # The backend is chosen when the database is opened, so no verify goes through the stub.
    assert lines[0] == "stub not entered"
