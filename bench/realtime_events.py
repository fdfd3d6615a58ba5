"""Run-event throughput and delivery on PostgreSQL and Redis, with a baseline in the same run.

    .venv/bin/python bench/realtime_events.py [--runs 50] [--events 40] [--clients 20]
        [--acks 300] [--parts store,acks,e2e]

Creates a throwaway database on the local server (migrated) and a fresh Redis prefix.

1. store path: ``runs`` runs emit ``events`` events each, all at once, through the worker's
   ``EventWriter`` (group commit: appends arriving during a transaction share the next one;
   seq assigned in the transaction; published after the commit). Baseline: the same events,
   each in its own transaction (``db.run(append_event)``) then published.
2. ack path: ``acks`` user messages submitted one after another on a warm pool (the work
   behind a ``user_message`` frame's ack: ``submit_user_message`` in one transaction, then the
   enqueue): latency p50/p99 and statements per message (round trips, BEGIN/COMMIT included).
3. end to end: an API (``/ws``) and a worker on PostgreSQL and Redis, served by uvicorn;
   ``clients`` users connect at once and each asks one question (placeholder pipeline, no
   pauses). Measures ack and completion latencies and checks every client received its run's
   events exactly once, in order, and nothing of anyone else's.
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import sys
import time
import uuid
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit, urlunsplit

import asyncpg

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "tests"))

from netra.chat import service
from netra.chat.event_writer import EventWriter, publish_events
from netra.chat.events import append_event
from netra.core.context import UserContext
from netra.core.migrate import upgrade
from netra.core.runtime import build_runtime
from netra.core.settings import Settings
from netra.tiers import limits_for

# Run limits no benchmark reaches (it measures the event path, not admission).
ROOMY = limits_for(
    Settings(env="test", runs_enterprise=1_000_000, runs_org_enterprise=1_000_000), "enterprise"
)

DEFAULT_SERVER = "postgresql+asyncpg://postgres@127.0.0.1:5432/postgres"


def _with_db(url: str, name: str) -> str:
    return urlunsplit(urlsplit(url)._replace(path=f"/{name}"))


async def _admin(url: str, sql: str) -> None:
    conn = await asyncpg.connect(url.replace("postgresql+asyncpg://", "postgresql://", 1))
    try:
        await conn.execute(sql)
    finally:
        await conn.close()


async def _new_runs(runtime: Any, n: int) -> list[tuple[str, str]]:
    async def noop(job: dict[str, Any]) -> None:
        return None

    out = []
    for _ in range(n):
        ctx = UserContext(uuid.uuid4().hex, uuid.uuid4().hex, "enterprise", "member")
        ack = await runtime.db.run(
            lambda s, ctx=ctx: service.submit_user_message(
                s, ctx, text="q", thread_id=None, frame_id=None, limits=ROOMY, enqueue=noop
            )
        )
        out.append((ack.run_id, ctx.org_id))
    return out


async def store_path(settings: Settings, runs: int, events: int) -> None:
    runtime = build_runtime(settings)
    await runtime.start()
    try:
        payload = {"agent": "data", "thought": "x" * 80}

        # Group commit through the EventWriter.
        writer = EventWriter(runtime.db, runtime.bus, runtime.metrics, batch_max=200)
        await writer.start()
        targets = await _new_runs(runtime, runs)

        async def emit_batched(run_id: str, org_id: str) -> None:
            for _ in range(events):
                await writer.append(run_id, org_id, "agent_thinking", payload)

        t0 = time.perf_counter()
        await asyncio.gather(*(emit_batched(r, o) for r, o in targets))
        batched = time.perf_counter() - t0
        sizes = list(writer.batches)
        await writer.stop()

        # Baseline: one transaction per event.
        targets = await _new_runs(runtime, runs)

        async def emit_one_by_one(run_id: str, org_id: str) -> None:
            for _ in range(events):
                stored = await runtime.db.run(
                    lambda s: append_event(
                        s, run_id=run_id, org_id=org_id, type_="agent_thinking", payload=payload
                    )
                )
                await publish_events(runtime.bus, [stored])

        t0 = time.perf_counter()
        await asyncio.gather(*(emit_one_by_one(r, o) for r, o in targets))
        single = time.perf_counter() - t0
    finally:
        await runtime.stop()
    total = runs * events
    print(f"store path: {runs} runs x {events} events = {total} events, all runs at once")
    print(f"  group commit (EventWriter)  {total / batched:10,.0f} events/s  ({batched:.2f} s)")
    print(f"  baseline: 1 txn per event   {total / single:10,.0f} events/s  ({single:.2f} s)")
    print(f"  ratio {single / batched:.1f}x; mean batch in the last 100 transactions: "
          f"{statistics.mean(sizes):.1f} events")  # fmt: skip


async def ack_path(settings: Settings, n: int) -> None:
    from sqlalchemy import event, update

    from netra.chat.models import Run

    # A queue of its own: the end-to-end worker below must not execute these runs.
    runtime = build_runtime(
        settings.model_copy(update={"redis_prefix": settings.redis_prefix + "acks:"})
    )
    await runtime.start()
    statements = [0]

    def count(*_: Any) -> None:
        statements[0] += 1

    # BEGIN and COMMIT are round trips too (asyncpg sends them as statements).
    sync_engine = runtime.db.engine.sync_engine
    event.listen(sync_engine, "before_cursor_execute", count)
    event.listen(sync_engine, "begin", count)
    event.listen(sync_engine, "commit", count)
    try:
        ctx = UserContext(uuid.uuid4().hex, uuid.uuid4().hex, "enterprise", "member")
        queue = runtime.queue

        async def submit(i: int) -> None:
            await runtime.db.run(
                lambda s: service.submit_user_message(
                    s, ctx, text=f"q{i}", thread_id=None, frame_id=uuid.uuid4().hex,
                    limits=ROOMY, enqueue=queue.enqueue,
                )
            )  # fmt: skip

        for i in range(20):  # warm the pool and the statement caches
            await submit(i)
        statements[0] = 0
        took = []
        cpu0 = time.process_time()
        for i in range(n):
            t0 = time.perf_counter()
            await submit(i)
            took.append((time.perf_counter() - t0) * 1000)
        cpu_ms = (time.process_time() - cpu0) * 1000 / n
        await runtime.db.run(  # ended: no sweep takes them up
            lambda s: s.execute(
                update(Run).where(Run.user_id == ctx.user_id).values(status="cancelled")
            )
        )
    finally:
        await runtime.stop()
    took.sort()
    print(f"ack path: {n} user messages one after another (submit + enqueue, warm pool)")
    p50, p99 = took[len(took) // 2], took[int(len(took) * 0.99)]
    print(f"  latency p50 {p50:6.2f} ms   p99 {p99:6.2f} ms   (this process's CPU {cpu_ms:.2f} ms)")
    print(f"  statements (round trips to PostgreSQL) per message: {statements[0] / n:.1f}")


async def end_to_end(settings: Settings, clients: int) -> None:
    from netra.agents import component as agents
    from netra.apps.factory import create_netra_app
    from netra.auth.component import verification_component
    from netra.chat import component as chat
    from netra.chat import tasks as chat_tasks
    from netra.reports import component as reports
    from support.realtime import Client, is_final, live_server, mint_token

    app = create_netra_app(
        settings,
        [
            verification_component(),
            chat.component(),
            reports.services_component(),
            agents.component(),
        ],
        tasks=[chat_tasks.run_worker()],
        title="bench",
    )
    async with live_server(app) as srv:
        tokens = [mint_token(srv, tier="enterprise") for _ in range(clients)]
        conns = await asyncio.gather(*(Client.connect(srv.ws_url, t) for t in tokens))

        async def one(client: Client, i: int) -> tuple[float, float, list[int], set[str], bool]:
            t0 = time.perf_counter()
            ack = await client.ask(f"question {i}")
            t_ack = time.perf_counter() - t0
            events = await client.events_until_final(ack["run_id"], wait_s=120)
            t_done = time.perf_counter() - t0
            foreign = {f["run_id"] for f in client.frames if "seq" in f} - {ack["run_id"]}
            return t_ack, t_done, [e["seq"] for e in events], foreign, is_final(events[-1])

        t0 = time.perf_counter()
        results = await asyncio.gather(*(one(c, i) for i, c in enumerate(conns)))
        wall = time.perf_counter() - t0
        for c in conns:
            await c.close()
    acks = sorted(r[0] for r in results)
    done = sorted(r[1] for r in results)
    exact = all(r[2] == list(range(1, len(r[2]) + 1)) and r[4] for r in results)
    isolated = all(not r[3] for r in results)
    n_events = sum(len(r[2]) for r in results)
    print(f"end to end: {clients} users ask at once (API + worker, PostgreSQL + Redis)")
    print(f"  ack latency      p50 {1000 * acks[len(acks) // 2]:7.1f} ms   "
          f"max {1000 * acks[-1]:7.1f} ms")  # fmt: skip
    print(f"  run completion   p50 {1000 * done[len(done) // 2]:7.1f} ms   "
          f"max {1000 * done[-1]:7.1f} ms")  # fmt: skip
    print(f"  {n_events} events delivered in {wall:.2f} s = {n_events / wall:,.0f} events/s")
    print(f"  every run's events exactly once, in order: {exact}; no foreign events: {isolated}")


async def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--runs", type=int, default=50)
    parser.add_argument("--events", type=int, default=40)
    parser.add_argument("--clients", type=int, default=20)
    parser.add_argument("--acks", type=int, default=300)
    parser.add_argument("--parts", default="store,acks,e2e", help="which measures to run")
    parser.add_argument("--database-url", default=DEFAULT_SERVER)
    parser.add_argument("--redis-url", default="redis://127.0.0.1:6379/0")
    args = parser.parse_args()
    name = f"netra_bench_{uuid.uuid4().hex[:10]}"
    await _admin(args.database_url, f'CREATE DATABASE "{name}"')
    url = _with_db(args.database_url, name)
    prefix = f"netra-bench-{uuid.uuid4().hex[:8]}:"
    data_dir = Path(f"/tmp/{name}")
    settings = Settings(
        env="test", data_dir=data_dir, database_url=url, redis_url=args.redis_url,
        redis_prefix=prefix, placeholder_pipeline=True, placeholder_step_delay_s=0.0,
        worker_concurrency=8, runs_enterprise=100, ws_connections_enterprise=100,
    )  # fmt: skip
    try:
        runtime = build_runtime(settings)
        await upgrade(runtime.db.engine)
        await runtime.db.close()
        parts = set(args.parts.split(","))
        if "store" in parts:
            await store_path(settings, args.runs, args.events)
        if "acks" in parts:
            await ack_path(settings, args.acks)
        if "e2e" in parts:
            await end_to_end(settings, args.clients)
    finally:
        await _admin(args.database_url, f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        import redis

        client = redis.Redis.from_url(args.redis_url)
        keys = list(client.scan_iter(match=prefix + "*"))
        if keys:
            client.delete(*keys)
        client.close()


if __name__ == "__main__":
    asyncio.run(main())
