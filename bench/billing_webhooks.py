"""Billing benchmark: what ``emit_event`` costs its caller, how fast deliveries go out, and what
a budget's spend costs on billed versus catalogue-priced rows.

    .venv/bin/python bench/billing_webhooks.py [--events 300] [--rows 50000]

Runs on a SQLite file in a temporary folder with a real HTTP receiver on loopback. Ratios
compare against baselines measured in the same run: emit latency with a receiver that takes
0.5 s per request against one that answers at once (≈1 means callers never wait for
receivers); spend over catalogue-priced rows against the same number of billed rows.
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import tempfile
import threading
import time
from datetime import UTC, datetime, timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

from sqlalchemy import insert

from netra.billing.delivery import WebhookDispatcher
from netra.billing.models import Webhook
from netra.billing.spend import TableSpend
from netra.billing.webhooks import DISPATCHER, deliver_via, emit_event
from netra.core.db import new_id
from netra.core.migrate import upgrade
from netra.core.runtime import Runtime, build_runtime
from netra.core.settings import Settings
from netra.usage.models import UsageRow

ORG = "bench-org"


def receiver(delay_s: float) -> tuple[ThreadingHTTPServer, list[int]]:
    hits: list[int] = []

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            self.rfile.read(int(self.headers.get("Content-Length") or 0))
            if delay_s:
                time.sleep(delay_s)
            hits.append(1)
            self.send_response(200)
            self.send_header("Content-Length", "0")
            self.end_headers()

        def log_message(self, format: str, *args: Any) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    server.daemon_threads = True
    threading.Thread(target=server.serve_forever, daemon=True).start()
    return server, hits


async def emit_run(rt: Runtime, events: int, delay_s: float) -> tuple[float, float]:
    """(median emit latency in ms, seconds until every event was delivered)."""
    server, hits = receiver(delay_s)
    url = f"http://127.0.0.1:{server.server_address[1]}/hook"

    async def setup(session: Any) -> None:
        await session.execute(Webhook.__table__.delete())
        session.add(Webhook(id=new_id(), org_id=ORG, url=url, secret="s" * 40,
                            events=["run.completed"]))  # fmt: skip

    await rt.db.run(setup)
    dispatcher = WebhookDispatcher(rt)
    await dispatcher.start(sweep=True)
    rt.services.provide(DISPATCHER, dispatcher)
    latencies = []
    started = time.perf_counter()
    for i in range(events):
        t0 = time.perf_counter()
        data = {"run_id": f"r{i}"}
        # The caller's unit of work: here one holding only the event.
        await rt.db.run(
            lambda s, data=data: emit_event(s, ORG, "run.completed", data, deliver=deliver_via(rt))
        )
        latencies.append((time.perf_counter() - t0) * 1000)
    for _ in range(60_000):  # at most ten minutes
        if len(hits) >= events:
            break
        await asyncio.sleep(0.01)
    elapsed = time.perf_counter() - started
    await dispatcher.stop()
    server.shutdown()
    server.server_close()
    return statistics.median(latencies), elapsed


async def spend_run(rt: Runtime, rows: int) -> tuple[float, float]:
    """(seconds for a month's spend over billed rows, over catalogue-priced rows)."""
    now = datetime.now(UTC)
    start = now.replace(day=1, hour=0, minute=0, second=0, microsecond=0)

    def batch(org: str, billed: bool) -> list[dict[str, Any]]:
        return [
            {"org_id": org, "timestamp": start + timedelta(seconds=i % 86_400),
             "provider": "openai", "model": ("gpt-4o", "gpt-4o-mini")[i % 2],
             "input_tokens": 1000 + i % 5000, "output_tokens": 200, "cached_input_tokens": 0,
             "cache_write_tokens": 0, "status": "ok", "batch": False,
             "cost_usd": 0.01 if billed else None}
            for i in range(rows)
        ]  # fmt: skip

    async def load(session: Any) -> None:
        await session.execute(insert(UsageRow), batch("billed", True))
        await session.execute(insert(UsageRow), batch("priced", False))

    await rt.db.run(load)
    spend = TableSpend()
    end = now + timedelta(days=1)
    timings = []
    for org in ("billed", "priced"):
        async with rt.db.unit_of_work() as session:
            await spend(session, org, "org", start, end)  # warm the catalogue
            t0 = time.perf_counter()
            result = await spend(session, org, "org", start, end)
            timings.append(time.perf_counter() - t0)
            assert result.records == rows and result.unpriced_records == 0
    return timings[0], timings[1]


async def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--events", type=int, default=300)
    parser.add_argument("--rows", type=int, default=50_000)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        settings = Settings(env="test", data_dir=Path(tmp), webhook_concurrency=16)
        rt = build_runtime(settings)
        await upgrade(rt.db.engine)
        fast_ms, fast_s = await emit_run(rt, args.events, 0.0)
        slow_ms, slow_s = await emit_run(rt, args.events, 0.5)
        billed_s, priced_s = await spend_run(rt, args.rows)
        await rt.db.close()
    print(
        f"emit_event median latency: fast receiver {fast_ms:.2f} ms, "
        f"0.5 s receiver {slow_ms:.2f} ms (ratio {slow_ms / fast_ms:.2f})"
    )
    print(
        f"delivered {args.events} events: fast receiver {fast_s:.2f} s "
        f"({args.events / fast_s:.0f}/s); 0.5 s receiver {slow_s:.2f} s "
        f"(serial would take {args.events * 0.5:.0f} s)"
    )
    print(
        f"month spend over {args.rows} rows: billed {billed_s * 1000:.0f} ms, "
        f"catalogue-priced {priced_s * 1000:.0f} ms (ratio {priced_s / billed_s:.1f})"
    )


if __name__ == "__main__":
    asyncio.run(main())
