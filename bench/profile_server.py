"""Profile our server under one workload of compare.py with py-spy (a sampling profiler).

Starts only our server, attaches ``py-spy record`` to it and runs the
workload; prints the functions with the most samples (self and total) and
keeps py-spy's raw collapsed stacks for a flame graph::

    .venv/bin/python bench/profile_server.py imap --duration 20 --out /tmp/imap.txt
    .venv/bin/python bench/profile_server.py smtp --smtp-messages 2000

py-spy is the ``bench`` extra (``pip install -e '.[bench]'``); attaching to
another process needs root (or ptrace permission).
"""

from __future__ import annotations

import argparse
import asyncio
import collections
import os
import shutil
import signal
import subprocess
import sys
import tempfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

import compare
from refservers import Ours


def process_tree(pid: int) -> list[int]:
    """``pid`` and all its descendants (the supervisor and the workers of ``workers: N``)."""
    children: dict[int, list[int]] = collections.defaultdict(list)
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            stat = (entry / "stat").read_text()
        except OSError:
            continue
        fields = stat[stat.rindex(")") + 2 :].split()
        children[int(fields[1])].append(int(entry.name))
    tree, todo = [], [pid]
    while todo:
        current = todo.pop()
        tree.append(current)
        todo.extend(children.get(current, []))
    return tree


def cpu_seconds(pid: int) -> tuple[float, float]:
    """(utime, stime) of ``pid`` and its descendants, in seconds (load does not
    inflate them much, unlike wall-clock rates)."""
    user = system = 0
    for member in process_tree(pid):
        try:
            stat = Path(f"/proc/{member}/stat").read_text()
        except OSError:
            continue
        fields = stat[stat.rindex(")") + 2 :].split()
        user += int(fields[11])
        system += int(fields[12])
    tick = os.sysconf("SC_CLK_TCK")
    return user / tick, system / tick


def machine_idle() -> float:
    """Idle + iowait core-seconds of the whole machine so far (``/proc/stat``):
    whether the cores were saturated during a run, or the limit was latency."""
    fields = Path("/proc/stat").read_text().split("\n", 1)[0].split()
    return (int(fields[4]) + int(fields[5])) / os.sysconf("SC_CLK_TCK")


def top(raw: Path, count: int = 25) -> list[str]:
    """Self and inclusive sample counts per function from py-spy's collapsed stacks."""
    own: collections.Counter[str] = collections.Counter()
    total: collections.Counter[str] = collections.Counter()
    samples = 0
    for line in raw.read_text().splitlines():
        stack, _, number = line.rpartition(" ")
        hits = int(number)
        samples += hits
        frames = [f.split(" (")[0] + " " + f.rsplit("/", 1)[-1] for f in stack.split(";")]
        own[frames[-1]] += hits
        for frame in set(frames):
            total[frame] += hits
    lines = [f"{samples} samples; self:"]
    lines += [f"  {100 * n / samples:5.1f}%  {name}" for name, n in own.most_common(count)]
    lines.append("inclusive:")
    lines += [f"  {100 * n / samples:5.1f}%  {name}" for name, n in total.most_common(count)]
    return lines


async def workload(args: argparse.Namespace, ours: Ours, users: list[str]) -> int:
    """Run the workload against ``ours``; the number of units done (0 for bigfetch)."""
    if args.workload == "imap":
        tally = await compare.imap_run(ours.ports["imap"], users, args)
    elif args.workload == "pop3":
        tally, _ = await compare.pop3_run(ours.ports["pop3"], users, args)
    elif args.workload == "bigfetch":
        print(await compare.big_fetch(ours.ports["imap"]))
        return 0
    else:
        tally = await compare.smtp_run(ours.ports["smtp"], args)
    print(f"{args.workload}: {tally.ok} ok, {tally.errors} errors, {tally.rate:.1f}/s")
    return tally.ok


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("workload", choices=("imap", "pop3", "smtp", "bigfetch"))
    parser.add_argument("--out", type=Path, default=Path("/tmp/mailserver-profile.txt"))
    parser.add_argument("--rate", type=int, default=200, help="py-spy samples per second")
    parser.add_argument(
        "--no-spy",
        action="store_true",
        help="no py-spy: only the server's CPU seconds per unit (py-spy's pauses inflate them)",
    )
    own, rest = parser.parse_known_args()
    args = compare.parse_args(rest)
    args.workload, args.out, args.rate = own.workload, own.out, own.rate
    workdir = Path(tempfile.mkdtemp(prefix="mailserver-profile-"))
    users = [f"u{n:03d}" for n in range(args.users)]
    everyone = [*users, compare.SINK, compare.BIG]
    ours = Ours(
        workdir / "ours",
        {u: compare.password(u) for u in everyone},
        transcripts=not args.no_transcripts,
    )
    for user in users:
        compare.seed(ours.maildir(user), args.mailbox, 3000)
    if own.workload == "bigfetch":
        compare.seed(ours.maildir(compare.BIG), args.big, 0, variety=True)
    try:
        import uvloop

        uvloop.install()  # the load generator as in compare.py
    except ImportError:
        pass
    ours.start()
    spy: subprocess.Popen[bytes] | None = None
    try:
        if not own.no_spy:
            # Inside the try: if py-spy cannot start, the server is still stopped.
            spy = subprocess.Popen(
                [
                    str(Path(sys.executable).parent / "py-spy"),
                    "record",
                    "--subprocesses",  # the workers of `workers: N`
                    "--format",
                    "raw",
                    "--rate",
                    str(args.rate),
                    "-o",
                    str(args.out),
                    "-p",
                    str(ours.pid),
                ],
                stdout=subprocess.DEVNULL,
                stderr=subprocess.DEVNULL,
            )
        before = cpu_seconds(ours.pid)
        client_before, idle_before = os.times(), machine_idle()
        units = asyncio.run(workload(args, ours, users))
        client_after, idle_after = os.times(), machine_idle()
        after = cpu_seconds(ours.pid)
    finally:
        if spy is not None:
            spy.send_signal(signal.SIGINT)  # py-spy writes its output on Ctrl-C
            spy.wait(timeout=60)
        ours.stop()
        shutil.rmtree(workdir, ignore_errors=True)
    user, system = after[0] - before[0], after[1] - before[1]
    used = user + system
    per_unit = (
        f", {1000 * used / units:.3f} ms per unit"
        f" ({1000 * user / units:.3f} user + {1000 * system / units:.3f} system)"
        if units
        else ""
    )
    print(f"server CPU (supervisor + workers, utime + stime): {used:.2f} s{per_unit}")
    client = (client_after.user - client_before.user) + (client_after.system - client_before.system)
    wall = client_after.elapsed - client_before.elapsed
    idle = idle_after - idle_before
    client_unit = f", {1000 * client / units:.3f} ms per unit" if units else ""
    print(f"load generator CPU (this process): {client:.2f} s{client_unit}")
    print(
        f"machine: {wall:.1f} s wall, {idle:.1f} s idle of {wall * (os.cpu_count() or 1):.1f}"
        " core-seconds (all processes, other jobs included)"
    )
    if spy is not None:
        print("\n".join(top(args.out)))
        print(f"collapsed stacks: {args.out}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
