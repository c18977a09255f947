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
import shutil
import signal
import subprocess
import sys
import tempfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

import compare
from refservers import Ours


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


async def workload(args: argparse.Namespace, ours: Ours, users: list[str]) -> None:
    if args.workload == "imap":
        tally = await compare.imap_run(ours.ports["imap"], users, args)
    elif args.workload == "pop3":
        tally, _ = await compare.pop3_run(ours.ports["pop3"], users, args)
    elif args.workload == "bigfetch":
        print(await compare.big_fetch(ours.ports["imap"]))
        return
    else:
        tally = await compare.smtp_run(ours.ports["smtp"], args)
    print(f"{args.workload}: {tally.ok} ok, {tally.errors} errors, {tally.rate:.1f}/s")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("workload", choices=("imap", "pop3", "smtp", "bigfetch"))
    parser.add_argument("--out", type=Path, default=Path("/tmp/mailserver-profile.txt"))
    parser.add_argument("--rate", type=int, default=200, help="py-spy samples per second")
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
    ours.start()
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
    try:
        asyncio.run(workload(args, ours, users))
    finally:
        spy.send_signal(signal.SIGINT)  # py-spy writes its output on Ctrl-C
        spy.wait(timeout=60)
        ours.stop()
        shutil.rmtree(workdir, ignore_errors=True)
    print("\n".join(top(args.out)))
    print(f"collapsed stacks: {args.out}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
