"""Realtime load on Netra beside its peers: sockets, connects/s, events/s, latency, memory.

    .venv/bin/python bench/realtime.py --quick         # under a minute
    .venv/bin/python bench/realtime.py                 # a few minutes
    .venv/bin/python bench/realtime.py --sockets 1000 --runs 20 --events 200 --json out.json
    .venv/bin/python bench/realtime.py --quick --rate 5000    # paced: 5,000 run events/s in all
    .venv/bin/python bench/realtime.py --sockets 100 --runs 100 --ask-over 10 --rate 500

For each system (Netra, python-socketio + AsyncRedisManager, a raw ``websockets`` server):
start the server pinned to core 0 (``taskset -c 0``; the load client pins itself to core 1),
open ``sockets`` authenticated sockets spread over ``runs`` users (connects/s; server RSS per
idle socket, psutil), then each user starts one run of ``events`` thinking events (plus the
four fixed ones) and every socket of the user receives all of them: delivered events/s,
emit -> receipt latency (the event's ``ts`` against the receipt clock), ack latency, and every
socket's seq 1..n checked once each, in order (lost, duplicated, out of order).

Netra is ``netra api`` + ``netra worker`` (both on core 0) on a throwaway PostgreSQL database
and a fresh Redis prefix, NETRA_ENV=test, the placeholder pipeline with
``NETRA_PLACEHOLDER_THINKING_EVENTS`` events. Every event is stored before it is published;
the peers store nothing (see bench/realtime_peers.py).

By default every user asks at the same instant and runs emit without pauses: a burst, whose
latencies are mostly queueing. Paced (``realtime_load.Pacing``):

- ``--rate R``: each run pauses ``runs / R`` seconds after each event (Netra's placeholder
  pipeline, ``NETRA_PLACEHOLDER_STEP_DELAY_S``; the peers the same, told in the request), so
  the runs together emit R run events/s while they overlap. Unless ``--ask-over`` says
  otherwise the users' asks are spread over one pause, so the runs interleave evenly. The
  rate reached is measured from the events' ``ts`` span ("run events/s emitted").
- ``--ask-over S``: each user asks at a seeded random instant within S seconds (not all at
  once): the ack latency under a steady stream of users, beside the burst figure.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import secrets
import signal
import socket
import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import asdict
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit, urlunsplit

import asyncpg
import httpx
import psutil
import redis

sys.path.insert(0, str(Path(__file__).resolve().parent))

from realtime_load import (
    Dialect,
    NetraDialect,
    Pacing,
    Result,
    SocketioDialect,
    WebsocketsDialect,
    close_all,
    connect_all,
    pause_for,
    pct,
    run_load,
)

HERE = Path(__file__).resolve().parent
SERVER_CORE, CLIENT_CORE = "0", 1
DEFAULT_DB = "postgresql+asyncpg://postgres@127.0.0.1:5432/postgres"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def pinned(argv: list[str]) -> list[str]:
    return ["taskset", "-c", SERVER_CORE, *argv] if os.path.exists("/usr/bin/taskset") else argv


@contextmanager
def process(argv: list[str], env: dict[str, str], ready: str) -> Iterator[psutil.Process]:
    """Start ``argv`` pinned to the server core; wait until ``ready`` (URL) answers or a TCP
    connect to it succeeds; stop it afterwards, whatever happened."""
    log = tempfile.NamedTemporaryFile(prefix="netra-bench-", suffix=".log", delete=False)
    proc = subprocess.Popen(pinned(argv), env=env, stdout=log, stderr=subprocess.STDOUT)
    try:
        deadline = time.monotonic() + 60
        while True:
            if proc.poll() is not None:
                raise RuntimeError(f"{argv} exited:\n{Path(log.name).read_text()[-3000:]}")
            if time.monotonic() > deadline:
                raise RuntimeError(f"{argv} not ready:\n{Path(log.name).read_text()[-3000:]}")
            try:
                if ready.startswith("http"):
                    if httpx.get(ready, timeout=1).status_code == 200:
                        break
                else:
                    host, port = ready.split(":")
                    socket.create_connection((host, int(port)), timeout=1).close()
                    break
            except (httpx.HTTPError, OSError):
                pass
            time.sleep(0.1)
        yield psutil.Process(proc.pid)
    finally:
        proc.terminate()
        try:
            proc.wait(15)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(5)
        log.close()
        os.unlink(log.name)


def base_env() -> dict[str, str]:
    return {k: v for k, v in os.environ.items() if not k.startswith("NETRA_")}


async def measure(dialect: Dialect, server: psutil.Process, tokens: list[str], args: Any,
                  settle_s: float = 1.0) -> Result:  # fmt: skip
    result = Result(dialect.name)
    await asyncio.sleep(settle_s)
    result.rss_before = server.memory_info().rss
    sockets, result.connect_s, result.connect_failures = await connect_all(
        dialect, tokens, args.sockets // args.runs, args.concurrency, result.failure_kinds
    )
    result.sockets = len(sockets)
    await asyncio.sleep(settle_s)  # idle: whatever per-socket work there is has happened
    result.rss_idle = server.memory_info().rss
    try:
        await run_load(dialect, sockets, args.runs, args.events, result, args.wait_s, args.pacing)
    finally:
        await close_all(sockets)
    return result


@contextmanager
def netra_stack(args: Any, secret: str) -> Iterator[tuple[psutil.Process, psutil.Process, str]]:
    name = f"netra_bench_{uuid.uuid4().hex[:10]}"
    admin = args.database_url.replace("postgresql+asyncpg://", "postgresql://", 1)
    asyncio.run(_admin(admin, f'CREATE DATABASE "{name}"'))
    prefix = f"netra-bench-{uuid.uuid4().hex[:8]}:"
    data_dir = tempfile.mkdtemp(prefix="netra-bench-")
    env = {
        **base_env(), "NETRA_ENV": "test", "NETRA_DATA_DIR": data_dir,
        "NETRA_DATABASE_URL": urlunsplit(urlsplit(args.database_url)._replace(path=f"/{name}")),
        "NETRA_REDIS_URL": args.redis_url, "NETRA_REDIS_PREFIX": prefix,
        "NETRA_JWT_ALGORITHM": "HS256", "NETRA_JWT_SECRET": secret,
        "NETRA_PLACEHOLDER_PIPELINE": "true",
        "NETRA_PLACEHOLDER_STEP_DELAY_S": str(args.pacing.pause_s),
        "NETRA_PLACEHOLDER_THINKING_EVENTS": str(args.events),
        "NETRA_WORKER_CONCURRENCY": str(max(4, args.runs)),
        "NETRA_WS_CONNECTIONS_ENTERPRISE": str(args.sockets),
        "NETRA_RUNS_ENTERPRISE": "1000", "NETRA_RUNS_ORG_ENTERPRISE": "1000",
        "NETRA_REQUESTS_PER_MIN_ENTERPRISE": "1000000",
    }  # fmt: skip
    try:
        subprocess.run([sys.executable, "-m", "netra", "migrate"], env=env, check=True,
                       capture_output=True)  # fmt: skip
        api_port, worker_port = free_port(), free_port()
        serve = [sys.executable, "-m", "netra"]
        with (
            process([*serve, "worker", "--host", "127.0.0.1", "--port", str(worker_port)], env,
                    f"http://127.0.0.1:{worker_port}/health/ready") as worker,
            process([*serve, "api", "--host", "127.0.0.1", "--port", str(api_port)], env,
                    f"http://127.0.0.1:{api_port}/health/ready") as api,
        ):  # fmt: skip
            yield api, worker, f"ws://127.0.0.1:{api_port}/ws"
    finally:
        asyncio.run(_admin(admin, f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        client = redis.Redis.from_url(args.redis_url)
        keys = list(client.scan_iter(match=prefix + "*"))
        if keys:
            client.delete(*keys)
        client.close()


async def _admin(url: str, sql: str) -> None:
    conn = await asyncpg.connect(url)
    try:
        await conn.execute(sql)
    finally:
        await conn.close()


def mint(secret: str, n: int) -> list[str]:
    """HS256 access tokens as ``netra auth-service`` issues them (same claims, same secret)."""
    from netra.auth.keys import load_keys
    from netra.auth.tokens import issue_access_token
    from netra.core.settings import Settings

    settings = Settings(env="test", jwt_algorithm="HS256", jwt_secret=secret)
    keys = load_keys(settings)
    return [issue_access_token(keys, settings, user_id=uuid.uuid4().hex, org_id=uuid.uuid4().hex,
                               tier="enterprise", role="member")[0] for _ in range(n)]  # fmt: skip


@contextmanager
def profiled(pid: int, out: Path | None) -> Iterator[None]:
    """``py-spy record`` of the process while the block runs (collapsed stacks: ``-f raw``)."""
    if out is None:
        yield
        return
    spy = subprocess.Popen(["py-spy", "record", "--pid", str(pid), "--rate", "250", "-f", "raw",
                            "--nonblocking", "-o", str(out)], stdout=subprocess.DEVNULL,
                           stderr=subprocess.DEVNULL)  # fmt: skip
    try:
        yield
    finally:
        spy.send_signal(signal.SIGINT)
        spy.wait(30)


def run_netra(args: Any, secret: str) -> Result:
    profile: Path | None = args.profile
    with (
        netra_stack(args, secret) as (api, worker, url),
        profiled(api.pid, profile and profile.with_suffix(".api.txt")),
        profiled(worker.pid, profile and profile.with_suffix(".worker.txt")),
    ):
        return asyncio.run(measure(NetraDialect("netra", url), api, mint(secret, args.runs), args))


def run_peer(peer: str, args: Any, secret: str) -> Result:
    port = free_port()
    argv = [sys.executable, str(HERE / "realtime_peers.py"), peer, "--port", str(port),
            f"--secret={secret}", "--redis-url", args.redis_url,
            "--channel", f"netra-bench-sio-{uuid.uuid4().hex[:8]}"]  # fmt: skip
    dialect: Dialect = (SocketioDialect if peer == "socketio" else WebsocketsDialect)(
        peer, f"ws://127.0.0.1:{port}" + ("" if peer == "socketio" else "/")
    )
    with process(argv, base_env(), f"127.0.0.1:{port}") as server:
        return asyncio.run(measure(dialect, server, mint(secret, args.runs), args))


ROWS: list[tuple[str, str, Any]] = [
    ("connects/s", "higher", lambda r: r.connects_per_s),
    ("RSS per idle socket KiB", "lower", lambda r: r.kib_per_socket),
    ("delivered events/s", "higher", lambda r: r.events_s),
    ("run events/s emitted", "higher", lambda r: r.emitted_s),
    ("emit->receipt p50 ms", "lower", lambda r: pct(r.latencies_ms, 50)),
    ("emit->receipt p99 ms", "lower", lambda r: pct(r.latencies_ms, 99)),
    ("emit->receipt max ms", "lower", lambda r: max(r.latencies_ms, default=float("nan"))),
    ("ack p50 ms", "lower", lambda r: pct(r.acks_ms, 50)),
    ("ack p99 ms", "lower", lambda r: pct(r.acks_ms, 99)),
    ("ack max ms", "lower", lambda r: max(r.acks_ms, default=float("nan"))),
]


def report(results: dict[str, Result], args: Any) -> dict[str, Any]:
    netra = results["netra"]
    peers = [p for p in ("socketio", "websockets") if p in results]
    print(
        f"\nrealtime: {args.sockets} sockets over {args.runs} users, one run each of "
        f"{args.events + 4} events; server on core {SERVER_CORE}, client on core {CLIENT_CORE}"
    )
    pacing = args.pacing
    print(
        f"paced: {args.rate:g} run events/s asked ({pacing.pause_s * 1000:.1f} ms after each "
        f"event of a run), asks over {pacing.ask_over_s:g} s"
        if pacing.pause_s or pacing.ask_over_s
        else "burst: every user asks at once, runs emit without pauses"
    )
    head = f"{'figure':26}{'netra':>12}" + "".join(f"{p:>12}{'ratio':>8}" for p in peers)
    print(head)
    table: dict[str, Any] = {}
    for label, _better, get in ROWS:
        ours = get(netra)
        line = f"{label:26}{ours:12.1f}"
        table[label] = {"netra": ours}
        for p in peers:
            theirs = get(results[p])
            ratio = ours / theirs if theirs else float("nan")
            line += f"{theirs:12.1f}{ratio:8.2f}x"
            table[label][p] = theirs
            table[label][f"netra/{p}"] = ratio
        print(line)
    print("(ratio: netra / peer; higher is better for connects/s and events/s, lower for the "
          "rest)")  # fmt: skip
    for name, r in results.items():
        print(f"{name:11} deliveries {r.deliveries}/{r.expected}, lost {r.lost}, duplicated "
              f"{r.duplicated}, out of order {r.out_of_order}, foreign {r.foreign}, "
              f"connect failures {r.connect_failures} {r.failure_kinds or ''}")  # fmt: skip
    runs = {k: {**asdict(v), "latencies_ms": None} for k, v in results.items()}
    return {"args": vars(args), "table": table, "results": runs}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="small N and M: under a minute")
    parser.add_argument("--sockets", type=int, help="sockets in all (spread over the users)")
    parser.add_argument("--runs", type=int, help="users, each starting one run at once")
    parser.add_argument("--events", type=int, help="thinking events per run (plus 4)")
    parser.add_argument("--concurrency", type=int, default=100, help="handshakes in flight")
    parser.add_argument("--rate", type=float, help="paced: run events/s in all (see above)")
    parser.add_argument("--ask-over", type=float, help="paced: users ask within S seconds")
    parser.add_argument("--seed", type=int, default=15, help="of the asks' instants")
    parser.add_argument("--wait-s", type=float, default=300.0)
    parser.add_argument("--peers", default="socketio,websockets", help="'' for Netra alone")
    parser.add_argument("--json", type=Path, help="write the figures here too")
    parser.add_argument(
        "--profile",
        type=Path,
        help="py-spy records of netra api and worker: PATH.api.txt, PATH.worker.txt",
    )
    parser.add_argument("--database-url", default=DEFAULT_DB)
    parser.add_argument("--redis-url", default="redis://127.0.0.1:6379/0")
    args = parser.parse_args()
    quick = (100, 10, 50) if args.quick else (1000, 20, 100)
    args.sockets = args.sockets or quick[0]
    args.runs = args.runs or quick[1]
    args.events = args.events or quick[2]
    args.sockets = max(args.runs, args.sockets - args.sockets % args.runs)
    pause_s = pause_for(args.rate, args.runs) if args.rate else 0.0
    ask_over = pause_s if args.ask_over is None else args.ask_over
    args.pacing = Pacing(pause_s, ask_over, args.seed)
    if hasattr(os, "sched_setaffinity") and (os.cpu_count() or 1) > 1:
        os.sched_setaffinity(0, {CLIENT_CORE})
    secret = secrets.token_urlsafe(48)
    results = {"netra": run_netra(args, secret)}
    for peer in filter(None, args.peers.split(",")):
        results[peer] = run_peer(peer, args, secret)
    out = report(results, args)
    if args.json:
        args.json.write_text(json.dumps(out, indent=2, default=str))
    bad = sum(
        r.lost + r.duplicated + r.out_of_order + r.foreign + r.connect_failures
        for r in results.values()
    )
    sys.exit(1 if bad else 0)


if __name__ == "__main__":
    main()
