"""Our server's CPU time per unit of work under one compare.py workload.

Wall-clock rates on a shared 2-core machine move by +-30% with the other
jobs' load; the CPU seconds the server itself (supervisor and workers) spent
per POP3 session or per IMAP command move much less. Reads utime+stime from
``/proc/<pid>/stat`` of every server process before and after the run::

    .venv/bin/python bench/server_cpu.py pop3 --duration 15 --no-transcripts
    .venv/bin/python bench/server_cpu.py imap --duration 15 --no-transcripts
    .venv/bin/python bench/server_cpu.py bigfetch --big 20000
    .venv/bin/python bench/server_cpu.py smtp --smtp-messages 3000

``smtp`` prints the CPU per message of each process (supervisor, each
worker) as well as the total, and user and system time apart.

``bigfetch`` counts only the ``FETCH 1:* (ENVELOPE BODYSTRUCTURE)`` (cold,
then warm on a new connection), not the SELECTs before them, per message.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import shutil
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

import compare
from refservers import Ours

TICK = os.sysconf("SC_CLK_TCK")


def tree(pid: int) -> list[int]:
    """The process and its descendants (the workers of ``workers: N``)."""
    out = [pid]
    for task in Path(f"/proc/{pid}/task").iterdir():
        children = (task / "children").read_text().split()
        for child in children:
            out += tree(int(child))
    return out


def cpu_split(pid: int) -> dict[int, tuple[float, float]]:
    """(utime, stime) of each process of the tree, in seconds."""
    out = {}
    for member in tree(pid):
        fields = Path(f"/proc/{member}/stat").read_text().rsplit(")", 1)[1].split()
        out[member] = (int(fields[11]) / TICK, int(fields[12]) / TICK)  # utime, stime (14, 15)
    return out


def cpu_by_process(pid: int) -> dict[int, float]:
    """utime + stime of each process of the tree, in seconds."""
    return {member: user + system for member, (user, system) in cpu_split(pid).items()}


def cpu_by_thread(pid: int) -> dict[tuple[int, str], float]:
    """Each process's CPU split four ways: its main thread's user and system time
    (the event loop of a worker), and its other threads' (the parse it does in
    a thread, a worker's delivery threads), keyed (pid, "loop user" | "loop sys" |
    "threads user" | "threads sys"). Threads that ended are counted in none (their
    time is in the process's total, :func:`cpu_split`)."""
    out: dict[tuple[int, str], float] = {}
    for member in tree(pid):
        for task in Path(f"/proc/{member}/task").iterdir():
            try:
                fields = (task / "stat").read_text().rsplit(")", 1)[1].split()
            except OSError:
                continue
            kind = "loop" if int(task.name) == member else "threads"
            for index, mode in ((11, "user"), (12, "sys")):
                key = (member, f"{kind} {mode}")
                out[key] = out.get(key, 0.0) + int(fields[index]) / TICK
    return out


def cpu_seconds(pid: int) -> float:
    """utime + stime of the process tree, in seconds."""
    return sum(cpu_by_process(pid).values())


def _role(pid: int) -> str:
    """supervisor, worker N or parse helper, from the command line."""
    words = Path(f"/proc/{pid}/cmdline").read_bytes().decode(errors="replace").split("\0")
    if "--index" in words:
        return f"worker {words[words.index('--index') + 1]} ({pid})"
    if any("import serve" in w for w in words):  # pool (older) or parsehelper
        return f"helper of {Path(f'/proc/{pid}/stat').read_text().rsplit(')', 1)[1].split()[1]}"
    return "supervisor" if any("supervisor" in w for w in words) else "other"


async def big_fetch(port: int) -> list[tuple[str, float, float, list[tuple[float, str]]]]:
    """(label, seconds, server CPU seconds, per process) of the cold and the warm FETCH."""
    out = []
    for label in ("cold", "warm"):
        imap = await compare.loadgen.Imap.open(port)
        try:
            await imap.greeting()
            await imap.command(f"LOGIN {compare.BIG} {compare.password(compare.BIG)}")
            await imap.command("SELECT INBOX")
            threads_before = cpu_by_thread(PID)
            before, started = cpu_by_process(PID), time.monotonic()
            await imap.command("FETCH 1:* (ENVELOPE BODYSTRUCTURE)")
            seconds, after = time.monotonic() - started, cpu_by_process(PID)
            threads_after = cpu_by_thread(PID)
            split = sorted(
                (
                    (threads_after[key] - threads_before.get(key, 0.0), f"{_role(key[0])} {key[1]}")
                    for key in threads_after
                ),
                reverse=True,
            )
            THREADS.append((label, split))
            used = sorted(((after[p] - before.get(p, 0.0), _role(p)) for p in after), reverse=True)
            out.append((label, seconds, sum(u for u, _ in used), used))
        finally:
            imap.close()
    return out


PID = 0
#: Per FETCH: (CPU seconds, process and thread kind), busiest first.
THREADS: list[tuple[str, list[tuple[float, str]]]] = []


async def workload(args: argparse.Namespace, ours: Ours, users: list[str]) -> tuple[int, str]:
    if args.workload == "smtp":
        tally = await compare.smtp_run(ours.ports["smtp"], args)
        return tally.ok, f"messages ({tally.errors} errors, {tally.rate:.0f}/s)"
    if args.workload == "pop3":
        tally, messages = await compare.pop3_run(ours.ports["pop3"], users, args)
        return tally.ok, f"sessions ({messages} messages, {tally.errors} errors)"
    tally = await compare.imap_run(ours.ports["imap"], users, args)
    return tally.ok, f"commands ({tally.errors} errors)"


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("workload", choices=("pop3", "imap", "bigfetch", "smtp"))
    own, rest = parser.parse_known_args()
    args = compare.parse_args(rest)
    args.workload = own.workload
    workdir = Path(tempfile.mkdtemp(prefix="mailserver-cpu-"))
    users = [f"u{n:03d}" for n in range(args.users)]
    ours = Ours(
        workdir / "ours",
        {u: compare.password(u) for u in [*users, compare.BIG, compare.SINK]},
        args.workers,
        transcripts=not args.no_transcripts,
    )
    if args.workload == "bigfetch":
        compare.seed(ours.maildir(compare.BIG), args.big, 0, variety=True)
    elif args.workload == "smtp":
        for sub in ("tmp", "new", "cur"):  # as compare.py
            (ours.maildir(compare.SINK) / sub).mkdir(parents=True, exist_ok=True)
    else:
        for user in users:
            compare.seed(ours.maildir(user), args.mailbox, 3000)
    try:
        import uvloop

        uvloop.install()  # as compare.py
    except ImportError:
        pass
    ours.start()
    global PID
    PID = ours.pid
    if args.workload == "bigfetch":
        try:
            for label, seconds, used, each in asyncio.run(big_fetch(ours.ports["imap"])):
                busiest = ", ".join(f"{role} {1e6 * s / args.big:.0f}" for s, role in each[:4])
                print(
                    f"{label} FETCH of {args.big}: {seconds:.2f} s, server CPU {used:.2f} s"
                    f" = {1e6 * used / args.big:.0f} us per message"
                    f" (busiest processes: {busiest} us)"
                )
            for label, split in THREADS:
                top = ", ".join(f"{role} {1e6 * s / args.big:.1f}" for s, role in split[:6])
                print(f"  {label}, by thread (us per message): {top}")
        finally:
            ours.stop()
            shutil.rmtree(workdir, ignore_errors=True)
        return 0
    try:
        before, client_before = cpu_split(ours.pid), os.times()
        threads_before = cpu_by_thread(ours.pid)
        units, what = asyncio.run(workload(args, ours, users))
        after = cpu_split(ours.pid)
        threads_after = cpu_by_thread(ours.pid)

        def spent(member: int, *kinds: str) -> float:
            return sum(
                threads_after.get((member, k), 0.0) - threads_before.get((member, k), 0.0)
                for k in kinds
            )

        used = sum(u + s for u, s in after.values()) - sum(u + s for u, s in before.values())
        client_after = os.times()
        per_process = []
        for member, (user, system) in sorted(after.items()):
            user -= before.get(member, (0.0, 0.0))[0]
            system -= before.get(member, (0.0, 0.0))[1]
            main_user = spent(member, "loop user")
            main = spent(member, "loop user", "loop sys")
            other = spent(member, "threads user", "threads sys")
            per_process.append(
                f"  {_role(member)}: {1000 * (user + system) / max(units, 1):.3f} ms per unit"
                f" ({1000 * user / max(units, 1):.3f} user"
                f" + {1000 * system / max(units, 1):.3f} system;"
                f" main thread {1000 * main / max(units, 1):.3f}"
                f" ({1000 * main_user / max(units, 1):.3f} user),"
                f" other threads {1000 * other / max(units, 1):.3f})"
            )
        client = (client_after.user + client_after.system) - (
            client_before.user + client_before.system
        )
    finally:
        ours.stop()
        shutil.rmtree(workdir, ignore_errors=True)
    if args.workload == "smtp":
        print(f"smtp: {units} {what}")
    else:
        rate = units / args.duration
        print(f"{args.workload}: {units} {what} in {args.duration:.0f} s ({rate:.1f}/s)")
    print(f"server CPU {used:.2f} s: {1000 * used / max(units, 1):.3f} ms per unit")
    print("\n".join(per_process))
    print(f"load generator CPU {client:.2f} s: {1000 * client / max(units, 1):.3f} ms per unit")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
