"""Server memory during a 1 GiB upload of a usage export: it must stay flat.

    .venv/bin/python bench/upload_memory.py [--source litellm|openrouter] [--gib 1.0]

Starts a real ``netra serve`` on a throwaway PostgreSQL database (the local server by default)
and Redis, signs up, and streams one upload generated on the fly (never held by the client):

- ``litellm``: a LiteLLM SpendLogs export as ONE JSON array document (``[{...}, ...]``), the
  case a naive reader would load whole; the server parses it item by item (ijson);
- ``openrouter``: an OpenRouter activity CSV.

The server process's RSS (with its children) is sampled every 0.2 s; the figures are the RSS
once 100 MB were sent and once the whole file was, the peak over the run, and the rows stored.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

import asyncpg
import httpx
import psutil

DEFAULT_SERVER = "postgresql+asyncpg://postgres@127.0.0.1:5432/postgres"
MB = 1_000_000
PASSWORD = "Bench-upload-memory-2026!"


def _dsn(url: str) -> str:
    return url.replace("postgresql+asyncpg://", "postgresql://", 1)


def _with_db(url: str, name: str) -> str:
    parts = urlsplit(url)
    return urlunsplit(parts._replace(path=f"/{name}"))


def litellm_rows(day0: datetime) -> Iterator[bytes]:
    """One LiteLLM SpendLogs row after another (JSON objects, ~900 bytes each)."""
    template = {
        "call_type": "acompletion",
        "api_key": "88dc28d0f030c55ed4ab77ed8faf098196cb1c05df778539800c9f1243fe6b4b",
        "spend": 0.000412,
        "total_tokens": 1480,
        "prompt_tokens": 1400,
        "completion_tokens": 80,
        "model": "gpt-4o-mini",
        "model_group": "fast",
        "custom_llm_provider": "openai",
        "api_base": "https://api.openai.com/v1",
        "user": "",
        "metadata": {
            "user_api_key_alias": "prod-key",
            "usage_object": {
                "prompt_tokens": 1400,
                "completion_tokens": 80,
                "total_tokens": 1480,
                "prompt_tokens_details": {"cached_tokens": 1024},
            },
        },
        "cache_hit": "False",
        "cache_key": "",
        "request_tags": ["support-bot"],
        "end_user": "cust-1",
        "status": "success",
    }
    i = 0
    while True:
        start = day0 + timedelta(milliseconds=50 * i)
        row = {
            "request_id": f"chatcmpl-{i}",
            **template,
            "startTime": start.isoformat(),
            "endTime": (start + timedelta(milliseconds=800)).isoformat(),
            "session_id": f"sess-{i // 8}",
        }
        yield json.dumps(row).encode()
        i += 1


def openrouter_rows(day0: datetime) -> Iterator[bytes]:
    yield (
        b"generation_id,created_at,cost_total,tokens_prompt,tokens_completion,tokens_cached,"
        b"model_permaslug,provider_name,cancelled,user,generation_time_ms,app_name"
    )
    i = 0
    while True:
        ts = (day0 + timedelta(milliseconds=50 * i)).isoformat()
        yield (
            f"gen-{i},{ts},0.00042,1400,80,1024,openai/gpt-4o-mini-2024-07-18,OpenAI,false,"
            f"u{i % 50},812,My App"
        ).encode()
        i += 1


class Body:
    """The upload body, generated as it is sent; counts the bytes handed out."""

    def __init__(self, source: str, size: int) -> None:
        self.source = source
        self.size = size
        self.sent = 0
        self.rows = 0

    def __iter__(self) -> Iterator[bytes]:
        day0 = datetime.now(UTC).replace(microsecond=0) - timedelta(days=30)
        json_doc = self.source == "litellm"
        rows = litellm_rows(day0) if json_doc else openrouter_rows(day0)
        if json_doc:
            yield self._count(b"[")
        sep = b",\n" if json_doc else b"\n"
        first = True
        buffer: list[bytes] = []
        while self.sent + sum(map(len, buffer)) < self.size:
            row = next(rows)
            buffer.append(row if first else sep + row)
            if json_doc or not first:  # a CSV's first line is its header
                self.rows += 1
            first = False
            if len(buffer) >= 500:
                yield self._count(b"".join(buffer))
                buffer = []
        if buffer:
            yield self._count(b"".join(buffer))
        yield self._count(b"]\n" if json_doc else b"\n")

    def _count(self, chunk: bytes) -> bytes:
        self.sent += len(chunk)
        return chunk


def rss(proc: psutil.Process) -> int:
    total = 0
    for p in [proc, *proc.children(recursive=True)]:
        try:
            total += p.memory_info().rss
        except psutil.Error:
            pass
    return total


async def _admin(url: str, statement: str) -> None:
    admin = await asyncpg.connect(_dsn(url))
    try:
        await admin.execute(statement)
    finally:
        await admin.close()


def main(args: argparse.Namespace) -> None:
    name = f"netra_bench_{uuid.uuid4().hex[:8]}"
    asyncio.run(_admin(args.database_url, f'CREATE DATABASE "{name}"'))
    data_dir = tempfile.mkdtemp(prefix="netra-bench-")
    port = args.port
    env = {k: v for k, v in os.environ.items() if not k.startswith("NETRA_")}
    env |= {
        "NETRA_ENV": "test",
        "NETRA_DATA_DIR": data_dir,
        "NETRA_DATABASE_URL": _with_db(args.database_url, name),
        "NETRA_REDIS_URL": args.redis_url,
        "NETRA_REDIS_PREFIX": f"bench-{uuid.uuid4().hex[:6]}:",
    }
    log = Path(data_dir) / "server.log"
    command = [sys.executable, "-m", "netra", "serve", "--host", "127.0.0.1", "--port", str(port)]
    with log.open("wb") as out:
        server = subprocess.Popen(command, env=env, stdout=out, stderr=subprocess.STDOUT)
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 60
        while True:
            try:
                if httpx.get(f"{url}/health/ready", timeout=1).status_code == 200:
                    break
            except httpx.HTTPError:
                pass
            if time.monotonic() > deadline or server.poll() is not None:
                raise SystemExit(f"server did not start:\n{log.read_text()[-3000:]}")
            time.sleep(0.2)
        email = f"bench-{uuid.uuid4().hex[:8]}@example.com"
        httpx.post(f"{url}/auth/register", json={"email": email, "password": PASSWORD})
        token = httpx.post(f"{url}/auth/login", json={"email": email, "password": PASSWORD}).json()[
            "access_token"
        ]
        proc = psutil.Process(server.pid)
        idle = rss(proc)
        body = Body(args.source, int(args.gib * (1 << 30)))
        samples: list[tuple[int, int]] = []
        stop = threading.Event()

        def sample() -> None:
            while not stop.is_set():
                samples.append((body.sent, rss(proc)))
                time.sleep(0.2)

        sampler = threading.Thread(target=sample, daemon=True)
        sampler.start()
        kind = "application/json" if args.source == "litellm" else "text/csv"
        started = time.monotonic()
        response = httpx.post(
            f"{url}/api/v1/usage/upload",
            content=iter(body),
            headers={"Authorization": f"Bearer {token}", "Content-Type": kind},
            timeout=httpx.Timeout(60.0, read=3600.0, write=3600.0),
        )
        elapsed = time.monotonic() - started
        stop.set()
        sampler.join()
        answer = response.json()
        at_100 = next((r for sent, r in samples if sent >= 100 * MB), samples[-1][1])
        at_end = samples[-1][1]
        peak = max(r for _, r in samples)
        rate = body.sent / MB / elapsed
        print(f"source {args.source} ({answer.get('source')}), {body.sent / MB:,.0f} MB sent, "
              f"{body.rows:,} rows in {elapsed:,.0f} s ({rate:,.1f} MB/s)")  # fmt: skip
        print(f"answer: accepted {answer.get('accepted')}, rejected {answer.get('rejected_count')}")
        print(f"server RSS: idle {idle / MB:,.0f} MB, at 100 MB sent {at_100 / MB:,.0f} MB, "
              f"at {body.sent / MB:,.0f} MB sent {at_end / MB:,.0f} MB, peak {peak / MB:,.0f} MB; "
              f"growth 100 MB -> end {(at_end - at_100) / MB:+,.0f} MB")  # fmt: skip
    finally:
        server.terminate()
        try:
            server.wait(20)
        except subprocess.TimeoutExpired:
            server.kill()
        asyncio.run(_admin(args.database_url, f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--source", choices=("litellm", "openrouter"), default="litellm")
    parser.add_argument("--gib", type=float, default=1.0)
    parser.add_argument("--database-url", default=DEFAULT_SERVER)
    parser.add_argument("--redis-url", default="redis://127.0.0.1:6379/0")
    parser.add_argument("--port", type=int, default=18765)
    main(parser.parse_args())
