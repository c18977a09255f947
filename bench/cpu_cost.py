"""Our server's CPU time per unit of work, transcripts on against transcripts off.

Wall-clock rates on a shared 2-core machine move by +-30% with the other
jobs' load; the CPU seconds the server's processes (supervisor and workers)
spend per POP3 session, IMAP command or SMTP message move much less. This
starts only our server (no Dovecot or Postfix), twice per round, once with
session transcripts (the default) and once without (``keep_sessions: 0``,
as ``config/production.yaml``), alternating which goes first, runs one
workload of ``compare.py`` against each and prints utime+stime per unit
read from ``/proc`` before and after::

    flock /work/helpers/bench.lock .venv/bin/python bench/cpu_cost.py pop3 --duration 10
    .venv/bin/python bench/cpu_cost.py imap --duration 10 --rounds 2
    .venv/bin/python bench/cpu_cost.py smtp --smtp-messages 1000
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import os
import shutil
import statistics
import sys
import tempfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

import compare
from refservers import Ours

TICK = os.sysconf("SC_CLK_TCK")


def tree_cpu(pid: int) -> tuple[float, float]:
    """utime + stime in seconds of ``pid`` (the supervisor) and of all its live
    descendants (the workers), from /proc."""
    stats: dict[int, tuple[int, float]] = {}
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        with contextlib.suppress(OSError):
            fields = Path(f"/proc/{entry}/stat").read_text().rsplit(")", 1)[1].split()
            stats[int(entry)] = (int(fields[1]), (int(fields[11]) + int(fields[12])) / TICK)
    own = stats.get(pid, (0, 0.0))[1]
    total, todo = 0.0, [pid]
    while todo:
        current = todo.pop()
        total += stats.get(current, (0, 0.0))[1]
        todo.extend(p for p, (parent, _) in stats.items() if parent == current)
    return own, total - own


async def one_run(
    args: argparse.Namespace, ours: Ours, users: list[str]
) -> tuple[float, float, int]:
    """CPU seconds of the supervisor and the workers, and units of work, of one run."""
    before = tree_cpu(ours.pid)
    if args.workload == "pop3":
        tally, _ = await compare.pop3_run(ours.ports["pop3"], users, args)
    elif args.workload == "imap":
        tally = await compare.imap_run(ours.ports["imap"], users, args)
    else:
        tally = await compare.smtp_run(ours.ports["smtp"], args)
    await asyncio.sleep(0.5)  # the last events cross to the other worker
    if tally.errors:
        print(f"    {tally.errors} errors: {tally.samples[:3]}", flush=True)
    after = tree_cpu(ours.pid)
    return after[0] - before[0], after[1] - before[1], tally.ok


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("workload", choices=("pop3", "imap", "smtp"))
    own, rest = parser.parse_known_args()
    args = compare.parse_args(rest)
    args.workload = own.workload
    unit = {"pop3": "session", "imap": "command", "smtp": "message"}[args.workload]
    workdir = Path(tempfile.mkdtemp(prefix="mailserver-cpu-"))
    users = [f"u{n:03d}" for n in range(args.users)]
    everyone = [*users, compare.SINK]
    results: dict[str, list[float]] = {"on": [], "off": []}
    try:
        for round_number in range(args.rounds):
            order = ["on", "off"] if round_number % 2 == 0 else ["off", "on"]
            for label in order:
                directory = workdir / f"{label}-{round_number}"
                ours = Ours(
                    directory,
                    {u: compare.password(u) for u in everyone},
                    args.workers,
                    transcripts=label == "on",
                )
                for user in users:
                    compare.seed(ours.maildir(user), args.mailbox, 3000)
                for sub in ("tmp", "new", "cur"):
                    (ours.maildir(compare.SINK) / sub).mkdir(parents=True, exist_ok=True)
                ours.start()
                try:
                    supervisor, workers, units = asyncio.run(one_run(args, ours, users))
                finally:
                    ours.stop()
                cpu = supervisor + workers
                per_unit = 1000 * cpu / max(units, 1)
                results[label].append(per_unit)
                print(
                    f"  transcripts {label:3}: {units} {unit}s, {cpu:.2f} CPU s "
                    f"(supervisor {supervisor:.2f}), {per_unit:.3f} CPU ms per {unit}",
                    flush=True,
                )
                shutil.rmtree(directory, ignore_errors=True)
    finally:
        shutil.rmtree(workdir, ignore_errors=True)
    on, off = statistics.mean(results["on"]), statistics.mean(results["off"])
    print(f"{args.workload}: CPU ms per {unit}: on {on:.3f}, off {off:.3f}, on/off {on / off:.2f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
