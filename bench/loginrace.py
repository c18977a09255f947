"""Stress the first logins: every seeded user's first IMAP and POP3 logins, all at once.

Issue #13's one IMAP error (``LOGIN: NO [SERVERBUG] Internal error``) came at
the first logins of freshly seeded users on a server with ``workers: 2`` and
transcripts on. This script recreates that moment again and again: each
iteration seeds fresh maildirs the way ``compare.py`` does (``cur/`` full of
messages, no ``dovecot-uidlist`` yet), starts a fresh server (fresh worker
processes: their first logins too), then opens several IMAP and POP3
connections per user, waits until all are greeted and fires every login at
the same moment. It is a stress script, not a test: it proves nothing when
it finds nothing, and it runs as long as it is asked to.

It reports, per iteration and in total:

* errors: any ``NO``/``BAD``/``-ERR`` or dropped connection, except the POP3
  ``-ERR [IN-USE]`` a second reader of one maildrop must get (RFC 1939 8);
* disagreements: two sessions of one user that saw different UIDVALIDITY or
  UID sets for INBOX (IMAP), or different UIDL lists (POP3), which a race on
  the first uid list would cause;
* the server log's ``ERROR`` lines and tracebacks (log level WARNING, as in
  ``compare.py``); logs with any are kept in ``--log-dir``.

Run it under the benchmark lock (it loads both cores)::

    flock /work/helpers/bench.lock .venv/bin/python bench/loginrace.py --iterations 10
"""

from __future__ import annotations

import argparse
import asyncio
import os
import re
import shutil
import sys
import tempfile
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

import loadgen
from compare import password, seed
from loadgen import Imap, Pop3, ProtocolError

_UIDVALIDITY = re.compile(rb"\[UIDVALIDITY (\d+)\]")
_UID = re.compile(rb"UID (\d+)")


@dataclass
class Outcome:
    """What one iteration saw."""

    sessions: int = 0
    in_use: int = 0
    #: Clients greeted and waiting for the gate to open.
    waiting: int = 0
    errors: list[str] = field(default_factory=list)
    #: user -> the distinct (UIDVALIDITY, UIDs) its IMAP sessions saw.
    imap_views: dict[str, set[tuple[int, tuple[int, ...]]]] = field(default_factory=dict)
    #: user -> the distinct UIDL lists its POP3 sessions saw.
    pop3_views: dict[str, set[tuple[str, ...]]] = field(default_factory=dict)

    def disagreements(self) -> list[str]:
        found = [f"imap {u}: {sorted(v)[:2]}" for u, v in self.imap_views.items() if len(v) > 1]
        found += [
            f"pop3 {u}: {len(v)} UIDL lists" for u, v in self.pop3_views.items() if len(v) > 1
        ]
        return found


async def imap_client(
    port: int, user: str, gate: asyncio.Event, out: Outcome, step: list[str]
) -> None:
    step[0] = "imap connect"
    imap = await Imap.open(port)
    try:
        step[0] = "imap greeting"
        await imap.greeting()
        out.waiting += 1
        await gate.wait()
        step[0] = "imap LOGIN"
        await imap.command(f"LOGIN {user} {password(user)}")
        step[0] = "imap SELECT"
        selected = b"".join(await imap.command("SELECT INBOX"))
        validity = _UIDVALIDITY.search(selected)
        step[0] = "imap UID FETCH"
        lines = await imap.command("UID FETCH 1:* (UID)")
        uids = tuple(sorted(int(m.group(1)) for line in lines if (m := _UID.search(line))))
        step[0] = "imap LOGOUT"
        await imap.command("LOGOUT")
        view = (int(validity.group(1)) if validity else -1, uids)
        out.imap_views.setdefault(user, set()).add(view)
        out.sessions += 1
    finally:
        imap.close()


async def pop3_client(
    port: int, user: str, gate: asyncio.Event, out: Outcome, step: list[str]
) -> None:
    step[0] = "pop3 connect"
    pop = await Pop3.open(port)
    try:
        step[0] = "pop3 greeting"
        await pop.reply()
        out.waiting += 1
        await gate.wait()
        step[0] = "pop3 USER/PASS"
        await pop.command(f"USER {user}")
        pop.send(f"PASS {password(user)}\r\n".encode())
        line = await pop.line()
        if line.startswith(b"-ERR [IN-USE]"):
            out.in_use += 1  # another session of this user holds the maildrop: as it must
            return
        if not line.startswith(b"+OK"):
            raise ProtocolError(f"PASS: {line!r}")
        step[0] = "pop3 UIDL"
        pop.send(b"UIDL\r\n")
        await pop.reply()
        data = b""
        while not data.endswith(b"\r\n.\r\n") and data != b".\r\n":
            data += await pop.reader.readuntil(b".\r\n")
        uidls = tuple(sorted(line.split()[1].decode() for line in data.splitlines()[:-1]))
        step[0] = "pop3 QUIT"
        await pop.command("QUIT")
        out.pop3_views.setdefault(user, set()).add(uidls)
        out.sessions += 1
    finally:
        pop.close()


Client = Callable[[int, str, asyncio.Event, Outcome, list[str]], Awaitable[None]]


async def first_logins(
    ports: dict[str, int], users: list[str], imap_each: int, pop3_each: int
) -> Outcome:
    """All clients connect and are greeted, then all log in at once."""
    out = Outcome()
    gate = asyncio.Event()
    jobs = [(imap_client, "imap", user) for user in users for _ in range(imap_each)]
    jobs += [(pop3_client, "pop3", user) for user in users for _ in range(pop3_each)]

    async def guarded(client: Client, protocol: str, user: str) -> None:
        step = ["start"]
        try:
            await client(ports[protocol], user, gate, out, step)
        except (ProtocolError, OSError, asyncio.IncompleteReadError) as exc:  # timeouts too
            out.errors.append(f"{user} at {step[0]}: {type(exc).__name__}: {exc}"[:200])

    tasks = [asyncio.create_task(guarded(*job)) for job in jobs]
    deadline = time.monotonic() + 60
    # Open the gate once every client is greeted or failed (or after a minute regardless).
    while time.monotonic() < deadline and out.waiting + len(out.errors) < len(tasks):
        await asyncio.sleep(0.05)
    gate.set()
    await asyncio.gather(*tasks)
    return out


def amplify_thread_switches(site: Path, seconds: float) -> None:
    """Make the server processes (started with our environment) switch threads every
    ``seconds``: a ``sitecustomize`` module on their ``PYTHONPATH`` sets it at start-up."""
    site.mkdir(parents=True, exist_ok=True)
    (site / "sitecustomize.py").write_text(f"import sys\nsys.setswitchinterval({seconds!r})\n")
    os.environ["PYTHONPATH"] = os.pathsep.join(
        filter(None, [str(site), os.environ.get("PYTHONPATH", "")])
    )


def problems_in_log(text: str) -> list[str]:
    """``ERROR`` lines and the last line of each traceback of a server log."""
    found = []
    lines = text.splitlines()
    for index, line in enumerate(lines):
        if " ERROR " in line or "CRITICAL" in line:
            found.append(line[:300])
        elif line.startswith("Traceback"):
            tail = next(
                (later for later in lines[index + 1 :] if later and not later.startswith(" ")),
                "?",
            )
            found.append("traceback: " + tail[:300])
    return found


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--iterations", type=int, default=10)
    parser.add_argument("--users", type=int, default=100)
    parser.add_argument("--mailbox", type=int, default=30, help="messages per seeded maildir")
    parser.add_argument("--imap-each", type=int, default=3, help="IMAP sessions per user")
    parser.add_argument("--pop3-each", type=int, default=2, help="POP3 sessions per user")
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--no-transcripts", action="store_true")
    parser.add_argument("--log-dir", type=Path, default=Path("loginrace-logs"))
    parser.add_argument(
        "--switch-interval",
        type=float,
        help="the server's sys.setswitchinterval (e.g. 1e-6): its threads then take turns"
        " thousands of times more often, so thread races show up in fewer iterations",
    )
    args = parser.parse_args(argv)
    for name in ("iterations", "users", "workers"):
        if getattr(args, name) < 1:
            parser.error(f"--{name} must be at least 1")
    return args


async def run(args: argparse.Namespace) -> int:
    from refservers import Ours

    workdir = Path(tempfile.mkdtemp(prefix="mailserver-loginrace-"))
    users = [f"u{n:03d}" for n in range(args.users)]
    ours = Ours(
        workdir / "ours",
        {u: password(u) for u in users},
        args.workers,
        transcripts=not args.no_transcripts,
    )
    args.log_dir.mkdir(parents=True, exist_ok=True)
    if args.switch_interval is not None:
        amplify_thread_switches(workdir / "site", args.switch_interval)
    totals = {"sessions": 0, "in_use": 0, "errors": 0, "disagreements": 0, "log": 0}
    try:
        for iteration in range(1, args.iterations + 1):
            shutil.rmtree(ours.server.mail_dir, ignore_errors=True)
            for user in users:
                seed(ours.maildir(user), args.mailbox, 3000)
            with ours.server.log_path.open("w"):
                pass  # one log per iteration
            ours.start()
            try:
                out = await first_logins(ours.ports, users, args.imap_each, args.pop3_each)
            finally:
                ours.stop()
            log_problems = problems_in_log(ours.server.log())
            disagreements = out.disagreements()
            print(
                f"iteration {iteration}: {out.sessions} sessions, {out.in_use} IN-USE,"
                f" {len(out.errors)} errors, {len(disagreements)} disagreements,"
                f" {len(log_problems)} log problems",
                flush=True,
            )
            for line in (out.errors + disagreements + log_problems)[:10]:
                print(f"    {line}", flush=True)
            if out.errors or disagreements or log_problems:
                kept = args.log_dir / f"server-{iteration}.log"
                shutil.copy(ours.server.log_path, kept)
                print(f"    server log kept: {kept}", flush=True)
            totals["sessions"] += out.sessions
            totals["in_use"] += out.in_use
            totals["errors"] += len(out.errors)
            totals["disagreements"] += len(disagreements)
            totals["log"] += len(log_problems)
    finally:
        shutil.rmtree(workdir, ignore_errors=True)
    print("total: " + ", ".join(f"{key}={value}" for key, value in totals.items()), flush=True)
    return 1 if totals["errors"] or totals["disagreements"] or totals["log"] else 0


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    loadgen.REPLY_TIMEOUT = 60.0  # hundreds of logins at once on two shared cores
    return asyncio.run(run(args))


if __name__ == "__main__":
    sys.exit(main())
