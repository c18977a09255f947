"""Side by side: this server against Debian's Dovecot (IMAP, POP3) and Postfix (SMTP).

One invocation starts all three on loopback in a throw-away directory (see
``refservers.py``), seeds the same users and maildirs, and runs each
workload against us and the reference in turn, alternating which goes first
from round to round, so both see the same machine load. It prints rates,
ratios (ours / reference; above 1 is better for us) and error counts.
Absolute numbers depend on the machine and whatever else runs on it; the
ratios of one run are what to compare.

Workloads (issue #13):

* ``imap``: mixed load, U users, C concurrent clients, D seconds; each
  connection LOGIN, SELECT, FETCH flags+envelope and one body, STORE flags,
  EXPUNGE (mailboxes held near 30 messages), APPEND ~3 KB, LOGOUT.
* ``pop3``: USER/PASS + STAT + UIDL + RETR all + QUIT of ~30-message
  maildrops, U users, C concurrent, D seconds.
* ``smtp``: M messages of 2 KB to one local user, P parallel sessions, one
  connection per message; ``250`` means durable (fsync'd) for both.
* ``bigfetch``: cold ``SELECT`` + ``FETCH 1:* (ENVELOPE BODYSTRUCTURE)`` of a
  B-message folder (each server its own copy, no index or cache yet), then
  the same again warm.
* ``idle`` (before ``bigfetch``, whose parse cache would count against it):
  S idle sessions (LOGIN + SELECT INBOX, kept open) on our server:
  whole-server RSS and the latency of new clients meanwhile. Dovecot runs a
  process per session, so it is measured only with ``--idle-dovecot N``.

Run as root (Dovecot and Postfix drop privileges themselves)::

    bench/install-reference.sh          # once on a fresh machine
    .venv/bin/python bench/compare.py   # everything, issue #13 sizes
    .venv/bin/python bench/compare.py --duration 5 --smtp-messages 500 \\
        --big 5000 --idle 1000 --rounds 1          # a quick look
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import platform
import random
import shutil
import statistics
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))

import loadgen
from loadgen import Tally

WORKLOADS = ("imap", "pop3", "smtp", "bigfetch", "idle")
SINK = "sink"
BIG = "big"


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--only", nargs="+", choices=WORKLOADS, default=list(WORKLOADS))
    parser.add_argument("--rounds", type=int, default=2, help="alternating rounds per workload")
    parser.add_argument("--duration", type=float, default=30.0, help="seconds per IMAP/POP3 run")
    parser.add_argument("--users", type=int, default=100)
    parser.add_argument("--clients", type=int, default=10, help="concurrent IMAP/POP3 clients")
    parser.add_argument("--mailbox", type=int, default=30, help="messages per seeded mailbox")
    parser.add_argument("--smtp-messages", type=int, default=3000)
    parser.add_argument("--smtp-parallel", type=int, default=20)
    parser.add_argument("--big", type=int, default=50000, help="messages in the bigfetch folder")
    parser.add_argument("--idle", type=int, default=10000, help="idle IMAP sessions (ours)")
    parser.add_argument("--idle-dovecot", type=int, default=0, help="idle sessions on Dovecot")
    parser.add_argument(
        "--workers", type=int, default=None, help="our `workers:` (default: one per core)"
    )
    parser.add_argument(
        "--no-transcripts",
        action="store_true",
        help="our server keeps no session transcripts (as config/production.yaml)",
    )
    parser.add_argument("--json", type=Path, help="also write the results here")
    parser.add_argument("--keep", action="store_true", help="keep the temp directory")
    parser.add_argument(
        "--server-log",
        type=Path,
        help="copy our server's log (level WARNING: errors with their tracebacks) here",
    )
    args = parser.parse_args(argv)
    for name in ("rounds", "users", "clients", "smtp_messages", "smtp_parallel"):
        if getattr(args, name) < 1:
            parser.error(f"--{name.replace('_', '-')} must be at least 1")
    if args.duration <= 0:
        parser.error("--duration must be positive")
    return args


def password(user: str) -> str:
    return f"{user}-pw"


def seed(maildir: Path, count: int, size: int, start: int = 0, variety: bool = False) -> None:
    """Messages written into ``cur/`` as an MDA would leave them (LF line ends)."""
    for sub in ("tmp", "new", "cur"):
        (maildir / sub).mkdir(parents=True, exist_ok=True)
    stamp = int(time.time()) - count
    for number in range(start, start + count):
        data = mime_message(number) if variety else loadgen.message(number, size)
        data = data.replace(b"\r\n", b"\n")
        name = f"{stamp + number}.M{number}P{os.getpid()}.bench,S={len(data)}:2,"
        (maildir / "cur" / name).write_bytes(data)


def mime_message(number: int) -> bytes:
    """Plain, multipart/alternative or with an attachment: BODYSTRUCTURE has work to do."""
    head = (
        f"From: Sender {number % 50} <sender{number % 50}@example.org>\r\n"
        f"To: big@bench.test\r\nSubject: message number {number}\r\n"
        f"Date: Mon, 7 Dec 2026 10:{number % 60:02d}:00 +0000\r\n"
        f"Message-ID: <{number}.big@example.org>\r\nMIME-Version: 1.0\r\n"
    )
    text = f"Body of message {number}, word{number % 97}.\r\nSome more text.\r\n"
    if number % 3 == 0:
        return (
            head + 'Content-Type: multipart/alternative; boundary="b1"\r\n\r\n'
            f"--b1\r\nContent-Type: text/plain; charset=utf-8\r\n\r\n{text}"
            f"--b1\r\nContent-Type: text/html; charset=utf-8\r\n\r\n<p>{text}</p>\r\n--b1--\r\n"
        ).encode()
    if number % 5 == 0:
        return (
            head + 'Content-Type: multipart/mixed; boundary="b2"\r\n\r\n'
            f"--b2\r\nContent-Type: text/plain\r\n\r\n{text}"
            "--b2\r\nContent-Type: application/octet-stream\r\n"
            'Content-Disposition: attachment; filename="a.bin"\r\n'
            "Content-Transfer-Encoding: base64\r\n\r\nAAECAwQFBgcICQ==\r\n--b2--\r\n"
        ).encode()
    return (head + "Content-Type: text/plain; charset=us-ascii\r\n\r\n" + text).encode()


class Results:
    """Per workload: each target's runs, printed as rates and a ratio."""

    def __init__(self) -> None:
        self.rows: dict[str, dict[str, list[dict[str, Any]]]] = {}

    def add(self, workload: str, target: str, **values: Any) -> None:
        self.rows.setdefault(workload, {}).setdefault(target, []).append(values)
        shown = ", ".join(f"{k}={_fmt(v)}" for k, v in values.items() if k != "samples")
        print(f"  {workload:9} {target:8} {shown}", flush=True)
        for sample in values.get("samples", []):
            print(f"      error: {sample}", flush=True)

    def ratio(self, workload: str, key: str, higher_better: bool = True) -> float | None:
        runs = self.rows.get(workload, {})
        ours = [r[key] for r in runs.get("ours", []) if key in r]
        refs = [v[key] for name, rs in runs.items() if name != "ours" for v in rs if key in v]
        if not ours or not refs or not sum(ours) or not sum(refs):
            return None
        mean_ours, mean_ref = statistics.mean(ours), statistics.mean(refs)
        return mean_ours / mean_ref if higher_better else mean_ref / mean_ours

    def summary(self) -> list[str]:
        lines = [
            "",
            "workload   reference  ours (runs)               reference (runs)          ratio",
        ]
        keys = {
            "imap": ("commands/s", True),
            "pop3": ("sessions/s", True),
            "smtp": ("messages/s", True),
            "bigfetch": ("cold_fetch_s", False),
        }
        for workload, (key, higher) in keys.items():
            runs = self.rows.get(workload)
            if not runs:
                continue
            ref_name = next((n for n in runs if n != "ours"), "-")
            ours = " ".join(_fmt(r.get(key, 0)) for r in runs.get("ours", []))
            ref = " ".join(_fmt(r.get(key, 0)) for r in runs.get(ref_name, []))
            errors_ours = sum(r.get("errors", 0) for r in runs.get("ours", []))
            errors_ref = sum(r.get("errors", 0) for r in runs.get(ref_name, []))
            ratio = self.ratio(workload, key, higher)
            shown = f"{ratio:.2f}" if ratio is not None else "-"
            lines.append(
                f"{workload:10} {ref_name:10} {key} {ours:14} err {errors_ours:<4}"
                f" {ref:14} err {errors_ref:<4} {shown}"
            )
        return lines


def _fmt(value: Any) -> str:
    if isinstance(value, float):
        return f"{value:.3f}" if value < 10 else f"{value:.1f}"
    return str(value)


async def imap_run(port: int, users: list[str], args: argparse.Namespace) -> Tally:
    deadline = time.monotonic() + args.duration

    async def one(_: int, tally: Tally) -> None:
        user = random.choice(users)
        await loadgen.imap_session(port, user, password(user), tally, 3000)

    return await loadgen.run_clients(args.clients, deadline, None, one)


async def pop3_run(port: int, users: list[str], args: argparse.Namespace) -> tuple[Tally, int]:
    """Each client takes a user nobody else is reading: a maildrop has one POP3 reader
    at a time (both servers lock it; RFC 1939 4), so a collision would be an
    artefact of the load generator, not a server error."""
    deadline = time.monotonic() + args.duration
    messages = 0
    free = list(users)
    random.shuffle(free)

    async def one(_: int, tally: Tally) -> None:
        nonlocal messages
        user = free.pop(0)
        try:
            got = await loadgen.pop3_session(port, user, password(user), tally)
            messages += got  # after the await: ``messages +=`` on it lost concurrent counts
        finally:
            free.append(user)

    return await loadgen.run_clients(args.clients, deadline, None, one), messages


def tree_cpu(pid: int) -> float:
    """CPU seconds (utime + stime) of ``pid``, its live descendants and the
    children it has reaped (Postfix's master reaps its smtpd, cleanup and
    delivery processes; our supervisor its workers), for CPU per message:
    a number the other jobs' load distorts far less than a rate."""
    parents: dict[int, list[int]] = {}
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                stat = (entry / "stat").read_text()
            except OSError:
                continue
            parents.setdefault(int(stat[stat.rindex(")") + 2 :].split()[1]), []).append(
                int(entry.name)
            )
    total, todo = 0, [pid]
    while todo:
        member = todo.pop()
        todo += parents.get(member, [])
        try:
            stat = Path(f"/proc/{member}/stat").read_text()
        except OSError:
            continue
        fields = stat[stat.rindex(")") + 2 :].split()
        total += sum(int(f) for f in fields[11:15])  # utime, stime, cutime, cstime
    return total / os.sysconf("SC_CLK_TCK")


async def smtp_run(port: int, args: argparse.Namespace) -> Tally:
    data = loadgen.message(0, 2048).replace(b"\r\n.", b"\r\n..")
    deadline = time.monotonic() + max(600.0, args.smtp_messages / 5)

    async def one(_: int, tally: Tally) -> None:
        await loadgen.smtp_message(port, f"{SINK}@bench.test", data, tally)

    return await loadgen.run_clients(args.smtp_parallel, deadline, args.smtp_messages, one)


async def big_fetch(port: int) -> dict[str, float]:
    out: dict[str, float] = {}
    for label in ("cold", "warm"):
        imap = await loadgen.Imap.open(port)
        try:
            await imap.greeting()
            await imap.command(f"LOGIN {BIG} {password(BIG)}")
            started = time.monotonic()
            await imap.command("SELECT INBOX")
            selected = time.monotonic()
            client_before = os.times()
            lines = await imap.command("FETCH 1:* (ENVELOPE BODYSTRUCTURE)")
            done = time.monotonic()
            client_after = os.times()
            out[f"{label}_select_s"] = selected - started
            out[f"{label}_fetch_s"] = done - selected
            # This client's CPU per message: it shares the two cores with the server.
            client = sum(client_after[:2]) - sum(client_before[:2])
            out[f"{label}_client_us"] = client * 1e6 / max(len(lines), 1)
            out["responses"] = float(len(lines))
        finally:
            imap.close()
    return out


#: Seconds the idle workload waits before its second RSS reading (``rss_settled_mb``).
SETTLE_SECONDS = 5.0


async def idle_run(target: Any, users: list[str], count: int, samples: int) -> dict[str, Any]:
    port = target.ports["imap"]
    before = target.rss()
    baseline = await loadgen.new_client_latency(port, users[0], samples)
    started = time.monotonic()
    sessions = await loadgen.idle_sessions(port, users, count)
    opened = time.monotonic() - started
    await asyncio.sleep(1)
    rss = target.rss()
    latency = await loadgen.new_client_latency(port, users[0], samples)
    # The same sessions a few seconds later, once the server noticed that the
    # burst of connections is over (it then gives caches and freed heap back,
    # mailserver/net/memory.py): what an idle server holds in the long run.
    await asyncio.sleep(SETTLE_SECONDS)
    settled = target.rss()
    for session in sessions:
        session.close()
    return {
        "sessions": len(sessions),
        "open_s": opened,
        "rss_before_mb": before / 2**20,
        "rss_mb": rss / 2**20,
        "rss_settled_mb": settled / 2**20,
        "latency_idle_free_ms": statistics.median(baseline) * 1000,
        "latency_median_ms": statistics.median(latency) * 1000,
        "latency_max_ms": max(latency) * 1000,
    }


def alternate(round_number: int, pair: list[Any]) -> list[Any]:
    return pair if round_number % 2 == 0 else list(reversed(pair))


async def run(args: argparse.Namespace) -> Results:
    from refservers import Dovecot, Ours, Postfix

    results = Results()
    workdir = Path(tempfile.mkdtemp(prefix="mailserver-compare-"))
    workdir.chmod(0o755)  # Dovecot's and Postfix's unprivileged users walk into it
    imap_users = [f"u{n:03d}" for n in range(args.users)]
    everyone = [*imap_users, SINK, BIG]
    print(f"workdir {workdir}; seeding {args.users} mailboxes of {args.mailbox}", flush=True)
    ours = Ours(
        workdir / "ours",
        {u: password(u) for u in everyone},
        args.workers,
        transcripts=not args.no_transcripts,
    )
    dovecot = Dovecot(workdir / "dovecot", ours.hashes())
    postfix = Postfix(workdir / "postfix", [SINK])
    for target in (ours, dovecot):
        for user in imap_users:
            seed(target.maildir(user), args.mailbox, 3000)
        for sub in ("tmp", "new", "cur"):
            (target.maildir(SINK) / sub).mkdir(parents=True, exist_ok=True)
    if "bigfetch" in args.only:
        print(f"seeding {args.big} messages for bigfetch", flush=True)
        seed(ours.maildir(BIG), args.big, 0, variety=True)
        shutil.copytree(ours.maildir(BIG), dovecot.maildir(BIG))
    started: list[Any] = []
    try:
        for target in (ours, dovecot, postfix):
            target.start()
            started.append(target)
        await _workloads(args, results, ours, dovecot, postfix, imap_users)
        for line in results.summary():  # before the (slow) clean-up of big maildirs
            print(line, flush=True)
    finally:
        for target in started:
            target.stop()
        if args.server_log is not None and ours.server.log_path.exists():
            shutil.copy(ours.server.log_path, args.server_log)
            errors = ours.server.log().count(" ERROR ")
            print(f"our server log: {args.server_log} ({errors} ERROR lines)", flush=True)
        if not args.keep:
            shutil.rmtree(workdir, ignore_errors=True)
    return results


async def _workloads(
    args: argparse.Namespace,
    results: Results,
    ours: Any,
    dovecot: Any,
    postfix: Any,
    users: list[str],
) -> None:
    steps: list[tuple[str, list[Any], Callable[[Any], Any]]] = []

    async def imap(target: Any) -> None:
        tally = await imap_run(target.ports["imap"], users, args)
        results.add(
            "imap", target.name, **{"commands/s": tally.rate},
            commands=tally.ok, errors=tally.errors, samples=tally.samples,
        )  # fmt: skip

    async def pop3(target: Any) -> None:
        tally, messages = await pop3_run(target.ports["pop3"], users, args)
        results.add(
            "pop3", target.name, **{"sessions/s": tally.rate},
            messages=messages, errors=tally.errors, samples=tally.samples,
        )  # fmt: skip

    accepted: dict[str, int] = {}

    async def smtp(target: Any) -> None:
        server_before, client_before = tree_cpu(target.pid), os.times()
        tally = await smtp_run(target.ports["smtp"], args)
        server_after, client_after = tree_cpu(target.pid), os.times()
        # Postfix's 250 means "queued"; its delivery into the maildir goes on
        # afterwards. Wait for it (bounded), so that it does not run during the
        # next measurement, and count its CPU too (ours delivers before the 250).
        accepted[target.name] = accepted.get(target.name, 0) + tally.ok
        started = time.monotonic()
        while target.delivered(SINK) < accepted[target.name] and time.monotonic() < started + 120:
            await asyncio.sleep(0.05)
        drained = time.monotonic() - started
        server_done = tree_cpu(target.pid)
        client = sum(client_after[:2]) - sum(client_before[:2])
        per = 1000 / max(tally.ok, 1)
        results.add(
            "smtp", target.name, **{"messages/s": tally.rate},
            accepted=tally.ok, errors=tally.errors, samples=tally.samples,
            server_ms=(server_after - server_before) * per,
            delivered_ms=(server_done - server_before) * per,
            drain_s=drained, client_ms=client * per,
        )  # fmt: skip

    if "imap" in args.only:
        steps.append(("imap", [ours, dovecot], imap))
    if "pop3" in args.only:
        steps.append(("pop3", [ours, dovecot], pop3))
    if "smtp" in args.only:
        steps.append(("smtp", [ours, postfix], smtp))
    for round_number in range(args.rounds):
        for name, pair, action in steps:
            print(f"round {round_number + 1}: {name}", flush=True)
            for target in alternate(round_number, pair):
                await action(target)
    if "idle" in args.only:
        print(f"idle: {args.idle} sessions on ours", flush=True)
        results.add("idle", "ours", **await idle_run(ours, users, args.idle, 20))
        if args.idle_dovecot:
            values = await idle_run(dovecot, users, args.idle_dovecot, 20)
            results.add("idle", "dovecot", **values)
    if "bigfetch" in args.only:
        print(f"bigfetch: {args.big} messages", flush=True)
        for target in (ours, dovecot):
            values = await big_fetch(target.ports["imap"])
            results.add("bigfetch", target.name, **values)
            results.rows["bigfetch"][target.name][-1]["cold_fetch_s"] = values["cold_fetch_s"]


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    if os.geteuid() != 0:
        print("compare.py runs Dovecot and Postfix: run it as root", file=sys.stderr)
        return 2
    try:
        import uvloop

        uvloop.install()
    except ImportError:
        pass
    print(
        f"{time.strftime('%Y-%m-%d %H:%M UTC', time.gmtime())}; {platform.node()}; "
        f"{os.cpu_count()} cores; load {os.getloadavg()[0]:.1f}; args {vars(args)}",
        flush=True,
    )
    results = asyncio.run(run(args))
    if args.json:
        args.json.write_text(json.dumps(results.rows, indent=1, default=str))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
