"""Realtime at scale: many idle sockets over several API processes, and a reconnect storm.

    .venv/bin/python bench/realtime_scale.py --quick                       # under a minute
    .venv/bin/python bench/realtime_scale.py --sockets 20000 --apis 2      # 20k idle sockets
    .venv/bin/python bench/realtime_scale.py --sockets 10000 --users 1000 --storm

The stack is bench/realtime.py's (``netra worker`` and ``netra api`` on a throwaway PostgreSQL
database and a fresh Redis prefix, the placeholder pipeline, every process on core 0, this
client on core 1), with ``--apis`` API processes on their own ports, as replicas behind a load
balancer would be; the sockets are spread over them in turn.

1. ``sockets`` authenticated sockets over ``users`` users (``concurrency`` handshakes in
   flight): connects/s, the API processes' CPU time per connect, their RSS per idle socket.
2. Each user asks once; every socket of the user must receive the whole run (exactly once, in
   order).
3. ``--storm``: every client's connection is cut at once (TCP reset, as a network failure would),
   then every client reconnects (to the next API process) and sends ``resume`` with an
   ``after_seq`` a few events before the end of its run: the time until the last client has its
   missing events, in order, and the clients that failed (refused, cut, or a wrong replay). The
   goal of issue 15: 10,000 clients in <= 15 s, 0 failures.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import multiprocessing
import os
import resource
import secrets
import sys
import time
import uuid
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass, field
from multiprocessing.connection import Connection
from pathlib import Path
from typing import Any

import psutil

sys.path.insert(0, str(Path(__file__).resolve().parent))

from realtime import CLIENT_CORE, DEFAULT_DB, free_port, mint, netra_stack, process, profiled
from realtime_load import FINAL, NetraDialect, Pacing, pct
from websockets.asyncio.client import ClientConnection

# Events of one run: started, ``events`` thinking, tool executing and completed, completed.
FIXED_EVENTS = 4
RESUME_BACK = 3  # a reconnecting client missed this many events at the end of its run


@dataclass
class Client:
    user: int
    token: str
    url: str
    ws: ClientConnection | None = None
    keepalive: asyncio.Task[None] | None = None  # pings within the heartbeat timeout
    seqs: list[int] = field(default_factory=list)
    run_id: str = ""


async def open_socket(c: Client) -> ClientConnection:
    """A netra.v1 socket, past its ``connection_established``, pinging while it is open."""
    dialect = NetraDialect("netra", c.url)
    ws = await dialect.open(c.token)
    drop(c)
    c.keepalive = asyncio.create_task(dialect.keepalive(ws))
    return ws


def drop(c: Client) -> None:
    """Cut the client's connection at once (a TCP reset, as a network failure would)."""
    if c.keepalive is not None:
        c.keepalive.cancel()
        c.keepalive = None
    if c.ws is not None:
        c.ws.transport.abort()
        c.ws = None


@dataclass
class Figures:
    sockets: int = 0
    connect_s: float = 0.0
    connect_failures: int = 0
    api_cpu_s: float = 0.0
    api_system_s: float = 0.0
    rss_before: int = 0
    rss_idle: int = 0
    run_s: float = 0.0
    run_failures: int = 0
    storm_s: float = 0.0
    storm_cpu_s: float = 0.0
    storm_failures: int = 0
    storm_latencies_ms: list[float] = field(default_factory=list)
    failure_kinds: dict[str, int] = field(default_factory=dict)

    def fail(self, exc: BaseException | str) -> None:
        kind = exc if isinstance(exc, str) else f"{type(exc).__name__}: {str(exc)[:60]}"
        self.failure_kinds[kind] = self.failure_kinds.get(kind, 0) + 1


def say(message: str) -> None:
    """Progress on stderr (a large run takes minutes)."""
    print(f"[{time.strftime('%H:%M:%S')}] {message}", file=sys.stderr, flush=True)


def raise_fd_limit(wanted: int) -> None:
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if soft >= wanted:
        return
    try:  # root may raise the hard limit too
        resource.setrlimit(resource.RLIMIT_NOFILE, (max(wanted, hard), max(wanted, hard)))
    except (ValueError, OSError):
        resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))


def cpu_s(procs: list[psutil.Process], kind: str = "both") -> float:
    """CPU seconds of the processes so far: ``user``, ``system`` (the kernel's, for the
    sockets' system calls) or ``both``."""
    total = 0.0
    for p in procs:
        t = p.cpu_times()
        total += (t.user if kind != "system" else 0.0) + (t.system if kind != "user" else 0.0)
    return total


def rss(procs: list[psutil.Process]) -> int:
    return sum(p.memory_info().rss for p in procs)


async def connect(clients: list[Client], concurrency: int,
                  figures: Figures) -> tuple[list[Client], int]:  # fmt: skip
    gate = asyncio.Semaphore(concurrency)
    failures = 0

    async def one(c: Client) -> None:
        nonlocal failures
        async with gate:
            try:
                c.ws = await open_socket(c)
            except Exception as exc:
                failures += 1
                figures.fail(exc)

    await asyncio.gather(*(one(c) for c in clients))
    return [c for c in clients if c.ws is not None], failures


async def read_until_final(c: Client, run_id: str, deadline_s: float) -> None:
    """Collect the run's seqs on this socket until its final event."""
    assert c.ws is not None

    async def loop() -> None:
        assert c.ws is not None
        async for message in c.ws:
            frame = json.loads(message)
            if frame.get("run_id") != run_id or "seq" not in frame:
                continue
            c.seqs.append(int(frame["seq"]))
            if frame["type"] == FINAL and frame["payload"].get("agent") == "supervisor":
                return

    await asyncio.wait_for(loop(), deadline_s)


async def run_once(clients: list[Client], events: int, figures: Figures, wait_s: float) -> None:
    """Each user asks once from its first socket; every socket must see the whole run."""
    first: dict[int, Client] = {}
    for c in clients:
        first.setdefault(c.user, c)
    run_of_user: dict[int, str] = {}
    # The run id comes in the ack; a socket of the user other than the asker learns it from
    # the first event it receives, so collect per socket by whatever run arrives.
    total = events + FIXED_EVENTS
    done_runs: dict[int, asyncio.Future[str]] = {
        u: asyncio.get_running_loop().create_future() for u in first
    }

    async def watch(c: Client) -> None:
        assert c.ws is not None
        async for message in c.ws:
            frame = json.loads(message)
            if frame.get("type") == "ack" and not done_runs[c.user].done():
                done_runs[c.user].set_result(frame["payload"]["run_id"])
                continue
            if "seq" not in frame:
                continue
            c.run_id = c.run_id or frame["run_id"]
            c.seqs.append(int(frame["seq"]))
            if frame["type"] == FINAL and frame["payload"].get("agent") == "supervisor":
                return

    t0 = time.perf_counter()
    watchers = [asyncio.create_task(watch(c)) for c in clients]
    for u, c in first.items():
        assert c.ws is not None
        await c.ws.send(json.dumps({"type": "user_message", "id": uuid.uuid4().hex,
                                    "payload": {"text": f"question of user {u}"}}))  # fmt: skip
    _, pending = await asyncio.wait(watchers, timeout=wait_s)
    figures.run_s = time.perf_counter() - t0
    for task in pending:
        task.cancel()
    for u, fut in done_runs.items():
        if fut.done():
            run_of_user[u] = fut.result()
    for c in clients:
        if c.seqs != list(range(1, total + 1)) or c.run_id != run_of_user.get(c.user):
            figures.run_failures += 1
            figures.fail("incomplete run")


async def storm(clients: list[Client], urls: list[str], events: int, concurrency: int,
                figures: Figures, wait_s: float) -> None:  # fmt: skip
    """Cut every connection at once, then reconnect each client to the next API replica (as a
    load balancer may send it anywhere) and resume there."""
    total = events + FIXED_EVENTS
    after = max(0, total - RESUME_BACK)
    for c in clients:
        drop(c)
        c.url = urls[(urls.index(c.url) + 1) % len(urls)]
    gate = asyncio.Semaphore(concurrency)

    async def one(c: Client) -> None:
        async with gate:
            started = time.perf_counter()
            try:
                c.ws = await open_socket(c)
                c.seqs = []
                await c.ws.send(json.dumps({"type": "resume", "id": uuid.uuid4().hex,
                                            "payload": {"run_id": c.run_id,
                                                        "after_seq": after}}))  # fmt: skip
                await read_until_final(c, c.run_id, wait_s)
            except Exception as exc:
                figures.storm_failures += 1
                figures.fail(exc)
                return
            if c.seqs != list(range(after + 1, total + 1)):
                figures.storm_failures += 1
                figures.fail("wrong replay")
                return
            figures.storm_latencies_ms.append((time.perf_counter() - started) * 1000)

    t0 = time.perf_counter()
    await asyncio.gather(*(one(c) for c in clients))
    figures.storm_s = time.perf_counter() - t0


async def close(clients: list[Client]) -> None:
    async def one(c: Client) -> None:
        if c.keepalive is not None:
            c.keepalive.cancel()
        if c.ws is None:
            return
        try:
            await asyncio.wait_for(c.ws.close(), 5)
        except Exception:
            drop(c)

    await asyncio.gather(*(one(c) for c in clients))


@contextmanager
def phase_profile(apis: list[psutil.Process], out: Path | None, phase: str) -> Iterator[None]:
    """py-spy records of the API processes during one phase: OUT.<phase>.api<i>.txt."""
    with ExitStack() as stack:
        for i, p in enumerate(apis if out is not None else []):
            assert out is not None
            stack.enter_context(profiled(p.pid, out.with_suffix(f".{phase}.api{i}.txt")))
        yield


def clients_of(urls: list[str], tokens: list[str], args: Any) -> list[Client]:
    """``sockets // users`` clients per user, spread over the APIs in turn."""
    per_user = args.sockets // args.users
    return [
        Client(u, token, urls[(u * per_user + i) % len(urls)])
        for u, token in enumerate(tokens)
        for i in range(per_user)
    ]


def _hold(share: list[Client], concurrency: int, pipe: Connection) -> None:
    """A child load client: open its share of the sockets, say so, hold them until told."""

    async def main() -> None:
        figures = Figures()
        opened, failures = await connect(share, concurrency, figures)
        pipe.send((len(opened), failures, figures.failure_kinds))
        await asyncio.get_running_loop().run_in_executor(None, pipe.recv)
        await close(opened)

    asyncio.run(main())


def idle_many(apis: list[psutil.Process], urls: list[str], tokens: list[str], args: Any,
              figures: Figures) -> None:  # fmt: skip
    """Connect and hold the sockets from ``args.clients`` child processes (a process may hold
    only so many descriptors): connects/s, CPU per connect, RSS per idle socket; no runs."""
    clients = clients_of(urls, tokens, args)
    fork = multiprocessing.get_context("fork")
    time.sleep(1.0)
    figures.rss_before = rss(apis)
    cpu0, sys0 = cpu_s(apis), cpu_s(apis, "system")
    say(f"connecting {len(clients)} sockets from {args.clients} client processes")
    t0 = time.perf_counter()
    pipes, children = [], []
    for i in range(args.clients):
        ours, theirs = fork.Pipe()
        share = clients[i :: args.clients]
        child = fork.Process(target=_hold, args=(share, args.concurrency // args.clients, theirs))
        child.start()
        pipes.append(ours)
        children.append(child)
    for pipe in pipes:
        opened, failures, kinds = pipe.recv()
        figures.sockets += opened
        figures.connect_failures += failures
        for kind, n in kinds.items():
            figures.failure_kinds[kind] = figures.failure_kinds.get(kind, 0) + n
    figures.connect_s = time.perf_counter() - t0
    figures.api_cpu_s = cpu_s(apis) - cpu0
    figures.api_system_s = cpu_s(apis, "system") - sys0
    time.sleep(2.0)  # idle: whatever per-socket work there is has happened
    figures.rss_idle = rss(apis)
    say(f"{figures.sockets} open in {figures.connect_s:.1f} s; closing")
    for pipe in pipes:
        pipe.send("close")
    for child in children:
        child.join(60)


async def measure(apis: list[psutil.Process], urls: list[str], tokens: list[str], args: Any,
                  figures: Figures) -> None:  # fmt: skip
    clients = clients_of(urls, tokens, args)
    await asyncio.sleep(1.0)
    figures.rss_before = rss(apis)
    cpu0, sys0 = cpu_s(apis), cpu_s(apis, "system")
    t0 = time.perf_counter()
    say(f"connecting {len(clients)} sockets")
    with phase_profile(apis, args.profile, "connect"):
        opened, figures.connect_failures = await connect(clients, args.concurrency, figures)
    figures.connect_s = time.perf_counter() - t0
    figures.api_cpu_s = cpu_s(apis) - cpu0
    figures.api_system_s = cpu_s(apis, "system") - sys0
    figures.sockets = len(opened)
    await asyncio.sleep(2.0)  # idle: whatever per-socket work there is has happened
    figures.rss_idle = rss(apis)
    say(f"{len(opened)} open in {figures.connect_s:.1f} s; each user asks once")
    try:
        await run_once(opened, args.events, figures, args.wait_s)
        if args.storm:
            ready = [c for c in opened if c.run_id]
            cpu0 = cpu_s(apis)
            say(f"runs done in {figures.run_s:.1f} s; cutting and resuming {len(ready)} clients")
            with phase_profile(apis, args.profile, "storm"):
                await storm(ready, urls, args.events, args.concurrency, figures, args.wait_s)
            figures.storm_cpu_s = cpu_s(apis) - cpu0
    finally:
        await close(opened)


def run(args: Any) -> Figures:
    secret = secrets.token_urlsafe(48)
    figures = Figures()
    with netra_stack(args, secret) as (api, _worker, url):
        # More API replicas with the first one's environment (same database, Redis, secret).
        env = api.environ()
        procs, urls = [api], [url]
        with ExitStack() as stack:
            for _ in range(args.apis - 1):
                port = free_port()
                argv = [sys.executable, "-m", "netra", "api", "--host", "127.0.0.1", "--port",
                        str(port)]  # fmt: skip
                ready = f"http://127.0.0.1:{port}/health/ready"
                procs.append(stack.enter_context(process(argv, env, ready)))
                urls.append(f"ws://127.0.0.1:{port}/ws")
            tokens = mint(secret, args.users)
            if args.clients > 1:
                idle_many(procs, urls, tokens, args, figures)
            else:
                asyncio.run(measure(procs, urls, tokens, args, figures))
    return figures


def report(f: Figures, args: Any) -> dict[str, Any]:
    out = {
        "sockets": f.sockets,
        "apis": args.apis,
        "users": args.users,
        "connects/s": f.sockets / f.connect_s if f.connect_s else 0.0,
        "api CPU ms per connect": 1000 * f.api_cpu_s / max(1, f.sockets),
        "  of which in the kernel": 1000 * f.api_system_s / max(1, f.sockets),
        "RSS per idle socket KiB": (f.rss_idle - f.rss_before) / 1024 / max(1, f.sockets),
        "RSS of the APIs MiB": f.rss_idle / 2**20,
        "connect failures": f.connect_failures,
    }
    if args.clients == 1:
        out |= {"run: every socket's events, s": f.run_s, "run failures": f.run_failures}
    if args.storm:
        out |= {
            "storm: reconnect + resume, s": f.storm_s,
            "storm: api CPU ms per client": 1000
            * f.storm_cpu_s
            / max(1, len(f.storm_latencies_ms)),
            "storm: per client p50 ms": pct(f.storm_latencies_ms, 50),
            "storm: per client p99 ms": pct(f.storm_latencies_ms, 99),
            "storm failures": f.storm_failures,
        }
    print(f"\nrealtime at scale: {f.sockets} sockets over {args.users} users on {args.apis} API "
          f"process(es); server on core 0, client on core {CLIENT_CORE}")  # fmt: skip
    for label, value in out.items():
        print(f"{label:32}{value:14.1f}" if isinstance(value, float) else f"{label:32}{value:>14}")
    if f.failure_kinds:
        print("failures:", f.failure_kinds)
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="1,000 sockets, storm: < 1 minute")
    parser.add_argument("--sockets", type=int, default=20_000)
    parser.add_argument("--users", type=int, default=1000, help="users (one run each)")
    parser.add_argument("--apis", type=int, default=2, help="API processes")
    parser.add_argument("--events", type=int, default=2, help="thinking events per run")
    parser.add_argument("--concurrency", type=int, default=200, help="handshakes in flight")
    parser.add_argument("--storm", action="store_true", help="then cut and resume every client")
    parser.add_argument(
        "--clients", type=int, default=1, help="load client processes (>1: idle sockets, no runs)"
    )
    parser.add_argument("--wait-s", type=float, default=300.0)
    parser.add_argument("--json", type=Path, help="write the figures here too")
    parser.add_argument(
        "--profile", type=Path, help="py-spy of the APIs: PATH.connect.api<i>.txt, PATH.storm..."
    )
    parser.add_argument("--database-url", default=DEFAULT_DB)
    parser.add_argument("--redis-url", default="redis://127.0.0.1:6379/0")
    args = parser.parse_args()
    if args.quick:
        args.sockets, args.users, args.storm = 1000, 100, True
    if args.storm and args.clients > 1:
        parser.error("--storm needs one client process (--clients 1)")
    args.sockets = max(args.users, args.sockets - args.sockets % args.users)
    # What netra_stack sizes the worker by: 100 runs at once at most (more wait their turn in
    # the queue); a thousand at once only queue on the worker's database pool.
    args.runs = min(args.users, 100)
    args.pacing = Pacing()  # runs without pauses
    raise_fd_limit(args.sockets // args.clients + 1024)
    if hasattr(os, "sched_setaffinity") and (os.cpu_count() or 1) > 1:
        os.sched_setaffinity(0, {CLIENT_CORE})
    figures = run(args)
    out = report(figures, args)
    if args.json:
        args.json.write_text(json.dumps({"args": vars(args), "figures": out}, indent=2,
                                        default=str))  # fmt: skip
    bad = figures.connect_failures + figures.run_failures + figures.storm_failures
    sys.exit(1 if bad else 0)


if __name__ == "__main__":
    main()
