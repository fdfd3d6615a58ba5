"""OTLP trace ingest: spans per second through ``POST /v1/traces`` of a real ``netra serve``
(PostgreSQL), against the JSON usage API in the same run.

    .venv/bin/python bench/otlp.py [--spans 50000] [--batch 512] [--database-url URL]

Creates a throwaway database on the server (default: the local test server), starts
``netra serve`` on it (in-process cache and bus), signs up, creates a ``usage:write`` key and
measures:

- decode + map: protobuf bodies -> spans -> validated records, in this process (pure CPU);
- OTLP over HTTP: the same bodies POSTed one after another (batches of 512 spans, the SDK's
  default export batch), one in ten spans not an LLM call (skipped);
- baseline: the same calls as usage records through ``POST /api/v1/usage`` (JSON, same batch
  size, an access token): the ingest path every other client uses;
- authentication: an empty OTLP export (API key verified, cached) against ``/health/live``
  (no credential), so the per-request cost of a key shows.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from datetime import UTC, datetime, timedelta
from typing import Any
from urllib.parse import urlsplit, urlunsplit

import asyncpg
import httpx
from opentelemetry.exporter.otlp.proto.common.trace_encoder import encode_spans
from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter

from netra.usage.otlp_spans import spans_to_rows
from netra.usage.otlp_wire import decode_request, spans_of

DEFAULT_SERVER = "postgresql+asyncpg://postgres@127.0.0.1:5432/postgres"
MODELS = (("openai", "gpt-4o"), ("openai", "gpt-4o-mini"), ("anthropic", "claude-sonnet-4-5"))
PASSWORD = "Bench-otlp-Passw0rd-long-enough"


def make_bodies(n: int, batch: int) -> tuple[list[bytes], list[list[dict[str, Any]]], int]:
    """OTLP protobuf bodies made by the SDK's encoder, and the same LLM calls as records."""
    memory = InMemorySpanExporter()
    provider = TracerProvider(resource=Resource.create({"service.name": "bench"}))
    provider.add_span_processor(SimpleSpanProcessor(memory))
    tracer = provider.get_tracer("bench")
    base = datetime.now(UTC) - timedelta(days=1)
    records: list[dict[str, Any]] = []
    for i in range(n):
        if i % 10 == 9:
            with tracer.start_as_current_span("GET /orders"):
                continue
        system, model = MODELS[i % 3]
        attrs = {
            "gen_ai.operation.name": "chat",
            "gen_ai.provider.name": system,
            "gen_ai.request.model": model,
            "gen_ai.usage.input_tokens": 1000 + i % 500,
            "gen_ai.usage.output_tokens": 100 + i % 50,
            "gen_ai.usage.cache_read.input_tokens": i % 200,
            "gen_ai.response.id": f"resp-{i}",
        }
        with tracer.start_as_current_span(f"chat {model}", attributes=attrs):
            pass
        records.append({"timestamp": (base + timedelta(seconds=i)).isoformat(),
                        "provider": system, "model": model,
                        "input_tokens": attrs["gen_ai.usage.input_tokens"],
                        "output_tokens": attrs["gen_ai.usage.output_tokens"],
                        "cached_input_tokens": attrs["gen_ai.usage.cache_read.input_tokens"],
                        "feature": "bench", "request_id": f"json-{i}"})  # fmt: skip
    spans = memory.get_finished_spans()
    provider.shutdown()
    bodies = [
        encode_spans(spans[i : i + batch]).SerializeToString() for i in range(0, len(spans), batch)
    ]
    json_batches = [records[i : i + batch] for i in range(0, len(records), batch)]
    return bodies, json_batches, len(records)


def start_server(url: str, port: int, data_dir: str) -> subprocess.Popen[bytes]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("NETRA_")}
    env |= {"NETRA_ENV": "test", "NETRA_DATABASE_URL": url, "NETRA_REDIS_URL": "memory://",
            "NETRA_DATA_DIR": data_dir, "NETRA_EMBEDDED_WORKERS": "false",
            "NETRA_LOG_LEVEL": "WARNING",
            # Throughput, not the tier's request rate (one free organisation posts every batch).
            "NETRA_REQUESTS_PER_MIN_FREE": "100000000"}  # fmt: skip
    proc = subprocess.Popen(
        [sys.executable, "-m", "netra", "serve", "--port", str(port)],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        try:
            if httpx.get(f"http://127.0.0.1:{port}/health/ready", timeout=1).status_code == 200:
                return proc
        except httpx.HTTPError:
            pass
        time.sleep(0.2)
    proc.kill()
    raise RuntimeError("netra serve did not start")


def post_all(client: httpx.Client, path: str, bodies: list[Any], headers: dict[str, str],
             json_body: bool = False) -> tuple[float, list[float]]:  # fmt: skip
    latencies = []
    started = time.perf_counter()
    for body in bodies:
        t = time.perf_counter()
        if json_body:
            r = client.post(path, json={"records": body}, headers=headers)
        else:
            r = client.post(path, content=body, headers=headers)
        assert r.status_code == 200, r.text
        latencies.append(time.perf_counter() - t)
    return time.perf_counter() - started, latencies


def ms(values: list[float], q: float) -> float:
    return 1000 * statistics.quantiles(values, n=100)[int(q) - 1] if len(values) > 1 else 0.0


async def admin_sql(server: str, sql: str) -> None:
    admin = await asyncpg.connect(server.replace("postgresql+asyncpg://", "postgresql://", 1))
    try:
        await admin.execute(sql)
    finally:
        await admin.close()


def main(args: argparse.Namespace) -> None:
    server = args.database_url
    name = f"netra_bench_{uuid.uuid4().hex[:10]}"
    asyncio.run(admin_sql(server, f'CREATE DATABASE "{name}"'))
    url = urlunsplit(urlsplit(server)._replace(path=f"/{name}"))
    port = 18000 + os.getpid() % 1000
    proc = start_server(url, port, tempfile.mkdtemp(prefix="netra-bench-otlp-"))
    try:
        bodies, json_batches, calls = make_bodies(args.spans, args.batch)
        mib = sum(map(len, bodies)) / 2**20
        print(f"OTLP ingest ({args.spans:,} spans, {calls:,} LLM calls, {len(bodies)} bodies of "
              f"{args.batch}, {mib:.1f} MiB protobuf, cpus {os.cpu_count()})")  # fmt: skip

        started = time.perf_counter()
        for body in bodies:
            spans_to_rows(spans_of(decode_request(body, "protobuf")))
        pure = args.spans / (time.perf_counter() - started)
        print(f"  decode + map (in process)      {pure:>10,.0f} spans/s")

        with httpx.Client(base_url=f"http://127.0.0.1:{port}", timeout=120) as client:
            email = f"bench-{uuid.uuid4().hex[:8]}@example.com"
            client.post("/auth/register", json={"email": email, "password": PASSWORD})
            token = client.post("/auth/login", json={"email": email, "password": PASSWORD})
            user = {"Authorization": f"Bearer {token.json()['access_token']}"}
            made = client.post("/api/v1/api-keys", headers=user,
                               json={"name": "bench", "scopes": ["usage:write"]})  # fmt: skip
            key = {"Authorization": f"Bearer {made.json()['key']}"}

            otlp = key | {"Content-Type": "application/x-protobuf"}
            took, lat = post_all(client, "/v1/traces", bodies, otlp)
            print(f"  OTLP /v1/traces over HTTP      {args.spans / took:>10,.0f} spans/s "
                  f"({calls / took:,.0f} calls stored/s; per body p50 {ms(lat, 50):.0f} ms, "
                  f"p95 {ms(lat, 95):.0f} ms)")  # fmt: skip
            took_json, lat = post_all(client, "/api/v1/usage", json_batches, user, True)
            print(f"  baseline: JSON /api/v1/usage   {calls / took_json:>10,.0f} calls/s "
                  f"(p50 {ms(lat, 50):.0f} ms, p95 {ms(lat, 95):.0f} ms)")  # fmt: skip
            print(f"  OTLP vs JSON usage API (calls stored per second): "
                  f"{took_json / took:.2f}x")  # fmt: skip

            empty = key | {"Content-Type": "application/json"}
            auth, _ = post_all(client, "/v1/traces", [b'{"resourceSpans": []}'] * 500, empty)
            started = time.perf_counter()
            for _ in range(500):
                client.get("/health/live")
            bare = time.perf_counter() - started
            print(f"  empty export with an API key   {1000 * auth / 500:>10.2f} ms/request; "
                  f"/health/live {1000 * bare / 500:.2f} ms/request")  # fmt: skip
    finally:
        proc.terminate()
        proc.wait(30)
        asyncio.run(admin_sql(server, f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))


if __name__ == "__main__":
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawTextHelpFormatter
    )
    parser.add_argument("--spans", type=int, default=50_000)
    parser.add_argument("--batch", type=int, default=512, help="spans per export")
    parser.add_argument(
        "--database-url", default=os.environ.get("NETRA_TEST_DATABASE_URL", DEFAULT_SERVER)
    )
    main(parser.parse_args())
