"""Ingest throughput into PostgreSQL, with a naive baseline measured in the same run.

    .venv/bin/python bench/ingest.py [--records 200000] [--naive 20000] [--database-url URL]

Creates a throwaway database on the server (default: the local test server), migrates it,
and measures, each into an empty organisation:

- store path: parsed records -> ``BatchWriter`` (the batch's frame written as CSV by Polars,
  ``COPY``-ed into a temp table, then ``INSERT ... SELECT ... ON CONFLICT (org_id,
  request_id) DO NOTHING``, 5,000 per batch, one transaction per batch): what every upload
  and JSON call goes through; and the same for records without a request_id, which are
  ``COPY``-ed straight into the table (nothing to deduplicate);
- file path: CSV bytes -> ``parsed_upload`` (source recognised, chunks of whole lines parsed
  by polars and validated vectorised) -> store path, exactly the upload pipeline minus HTTP
  (parsing runs in a worker thread, as in the server); and the same through the careful
  row-by-row parser (``UsageStream``, what other sources' exports take) for comparison;
- re-send: the same records again (all duplicates, nothing stored);
- baselines: ``executemany`` of an ``INSERT ... ON CONFLICT`` (batched inserts), and a naive
  row-by-row ``INSERT`` awaited one at a time (one transaction) on a sample.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import time
import uuid
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit, urlunsplit

import asyncpg
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.ext.asyncio import AsyncSession

from netra.core.db import Database
from netra.core.migrate import upgrade
from netra.core.settings import Settings
from netra.records.record import UsageRecord
from netra.usage.ingest import BatchWriter, IngestResult, ingest_in_thread, ingest_records
from netra.usage.models import UsageRow
from netra.usage.repository import COLUMNS, UsageRepository, record_row
from netra.usage.router import BATCH_SIZE as DEFAULT_BATCH
from netra.usage.sources import UsageStream
from netra.usage.upload_parse import Guarded, parsed_upload

DEFAULT_SERVER = "postgresql+asyncpg://postgres@127.0.0.1:5432/postgres"
MODELS = (("openai", "gpt-4o"), ("openai", "gpt-4o-mini"), ("anthropic", "claude-sonnet-4-5"))
T0 = datetime(2026, 10, 1, tzinfo=UTC)
_batch = {"size": DEFAULT_BATCH}


def batch_size() -> int:
    return _batch["size"]


def make_records(n: int, tag: str, *, ids: bool = True) -> list[UsageRecord]:
    """``n`` records; with ``ids`` each has a request_id (``tag``-i), else none."""
    out = []
    for i in range(n):
        provider, model = MODELS[i % 3]
        out.append(
            UsageRecord(
                timestamp=T0 + timedelta(seconds=i),
                provider=provider,
                model=model,
                input_tokens=1000 + i % 500,
                output_tokens=100 + i % 50,
                cached_input_tokens=i % 200,
                latency_ms=float(200 + i % 900),
                feature=("chat", "search", "summarise")[i % 3],
                user=f"user-{i % 97}",
                prompt_hash=f"h{i % 1000}",
                request_id=f"{tag}-{i}" if ids else None,
            )
        )
    return out


def make_csv(records: list[UsageRecord]) -> bytes:
    lines = [
        "timestamp,provider,model,input_tokens,output_tokens,cached_input_tokens,latency_ms,"
        "feature,user,prompt_hash,request_id\n"
    ]
    for r in records:
        lines.append(
            f"{r.timestamp:%Y-%m-%dT%H:%M:%SZ},{r.provider},{r.model},{r.input_tokens},"
            f"{r.output_tokens},{r.cached_input_tokens},{r.latency_ms},{r.feature},{r.user},"
            f"{r.prompt_hash},{r.request_id}\n"
        )
    return "".join(lines).encode()


_backends: dict[str, Any] = {}


async def backend_cpu() -> dict[int, float]:
    """CPU seconds used so far by each PostgreSQL backend serving the bench database (read
    from /proc: the server is local; empty when it is not). With this process's CPU time it
    gives rows per CPU second, a figure the machine's other load hardly moves."""
    admin, name = _backends["admin"], _backends["name"]
    pids = await admin.fetch("SELECT pid FROM pg_stat_activity WHERE datname = $1", name)
    return {row["pid"]: t for row in pids if (t := cpu_seconds(row["pid"])) is not None}


def cpu_seconds(pid: int) -> float | None:
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except OSError:
        return None
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


async def timed(label: str, n: int, work: Callable[[], Awaitable[object]]) -> float:
    before, cpu = await backend_cpu(), time.process_time()
    started = time.perf_counter()
    await work()
    elapsed = time.perf_counter() - started
    cpu = time.process_time() - cpu
    after = await backend_cpu()
    server = sum(t - before.get(pid, 0.0) for pid, t in after.items())
    rate = n / elapsed
    print(f"  {label:<46} {n:>9,} rows {elapsed:>7.2f} s {rate:>11,.0f} rows/s;"
          f" cpu {cpu:.2f} s + PostgreSQL {server:.2f} s ="
          f" {n / (cpu + server):>9,.0f} rows/cpu-s")  # fmt: skip
    return rate


async def store_path(db: Database, org: str, records: list[UsageRecord]) -> IngestResult:
    result = IngestResult()
    async with BatchWriter(db, org, result) as writer:
        await ingest_records(records, writer, batch_size())
    return result


async def file_path(db: Database, org: str, data: bytes, *, careful: bool = False) -> IngestResult:
    chunks = [data[i : i + 65536] for i in range(0, len(data), 65536)]
    chunks.reverse()

    def next_chunk() -> bytes | None:  # the server reads its spooled file the same way
        return chunks.pop() if chunks else None

    result = IngestResult()
    async with BatchWriter(db, org, result) as writer:
        await ingest_in_thread(
            lambda read: (
                Guarded(UsageStream(read, filename="bench.csv"))
                if careful
                else parsed_upload(read, filename="bench.csv")
            ),
            next_chunk,
            writer,
            batch_size(),
        )
    return result


def rows(org: str, records: list[UsageRecord]) -> list[dict[str, object]]:
    """Stored rows as statement parameters (the baselines' input)."""
    return [dict(zip(COLUMNS, record_row(org, r), strict=True)) for r in records]


async def executemany(db: Database, org: str, records: list[UsageRecord]) -> None:
    stmt = pg_insert(UsageRow).on_conflict_do_nothing(
        index_elements=["org_id", "request_id"], index_where=UsageRow.request_id.isnot(None)
    )
    for i in range(0, len(records), batch_size()):
        params = rows(org, records[i : i + batch_size()])

        async def work(session: AsyncSession, params: list[dict[str, object]] = params) -> None:
            await session.execute(stmt, params)
            await UsageRepository(session, org).bump_version()

        await db.run(work)


async def naive(db: Database, org: str, records: list[UsageRecord]) -> None:
    stmt = pg_insert(UsageRow).on_conflict_do_nothing(
        index_elements=["org_id", "request_id"], index_where=UsageRow.request_id.isnot(None)
    )

    async def work(session: AsyncSession) -> None:
        for row in rows(org, records):
            await session.execute(stmt.values(row))

    await db.run(work)


def _dsn(url: str) -> str:
    return url.replace("postgresql+asyncpg://", "postgresql://", 1)


async def main(args: argparse.Namespace) -> None:
    server = args.database_url
    _batch["size"] = args.batch
    name = f"netra_bench_{uuid.uuid4().hex[:10]}"
    admin = await asyncpg.connect(_dsn(server))
    await admin.execute(f'CREATE DATABASE "{name}"')
    _backends.update(admin=admin, name=name)
    url = urlunsplit(urlsplit(server)._replace(path=f"/{name}"))
    db = Database(Settings(env="test", database_url=url, redis_url="memory://"))
    try:
        await upgrade(db.engine)
        n, sample = args.records, min(args.naive, args.records)
        records = make_records(n, "a")
        data = make_csv(make_records(n, "f"))
        anonymous = make_records(n, "n", ids=False)
        print(f"ingest into PostgreSQL ({n:,} records, CSV {len(data) / 2**20:.1f} MiB, "
              f"batch {batch_size():,}, cpus {os.cpu_count()})")  # fmt: skip
        store = await timed(
            "store path (COPY + ON CONFLICT)", n, lambda: store_path(db, "o1", records)
        )
        await timed(
            "store path, no request_id (COPY straight)",
            n,
            lambda: store_path(db, "o5", anonymous),
        )
        whole = await timed(
            "file path (CSV parse + validate + store)", n, lambda: file_path(db, "o2", data)
        )
        row_by_row = await timed(
            "file path, careful parser (row by row)",
            n,
            lambda: file_path(db, "o6", data, careful=True),
        )
        again = await timed("re-send (all duplicates)", n, lambda: store_path(db, "o1", records))
        many = await timed(
            "baseline: executemany ON CONFLICT", n, lambda: executemany(db, "o3", records)
        )
        slow = await timed(
            "baseline: naive row-by-row INSERT", sample, lambda: naive(db, "o4", records[:sample])
        )
        print(f"  store path vs naive row-by-row: {store / slow:.1f}x;"
              f" vs executemany: {store / many:.1f}x; file path vs naive: {whole / slow:.1f}x;"
              f" duplicate re-send vs naive: {again / slow:.1f}x;"
              f" file path fast vs careful parser: {whole / row_by_row:.1f}x")  # fmt: skip
        assert (await store_path(db, "o1", records[:10])).duplicates == 10
    finally:
        await db.close()
        await admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        await admin.close()


if __name__ == "__main__":
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawTextHelpFormatter
    )
    parser.add_argument("--records", type=int, default=200_000)
    parser.add_argument("--batch", type=int, default=DEFAULT_BATCH, help="rows per batch")
    parser.add_argument("--naive", type=int, default=20_000, help="rows for the naive baseline")
    parser.add_argument(
        "--database-url", default=os.environ.get("NETRA_TEST_DATABASE_URL", DEFAULT_SERVER)
    )
    asyncio.run(main(parser.parse_args()))
