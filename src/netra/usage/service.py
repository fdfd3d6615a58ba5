"""Analyses and summaries of an organisation's stored usage, through the analysis cache.

The numbers come from the pure engine (``netra.analysis``); this module only loads the org's
records, keys the cache by the org's data version, and stores reports.
"""

from __future__ import annotations

import json
import os
import tempfile
from datetime import date, datetime
from typing import Any

import anyio.to_thread
import polars as pl
from sqlalchemy.ext.asyncio import AsyncSession

from netra.analysis.engine import analyze, summary
from netra.analysis.frame import SCHEMA, conform
from netra.billing.webhooks import emit_event
from netra.core.db import Database
from netra.core.runtime import Runtime
from netra.usage.cache import ANALYSIS_CACHE, AnalysisCache, cache_key
from netra.usage.repository import AnalysisRepository, UsageRepository

GROUPS = ("model", "provider", "feature", "user", "day")


def analysis_cache(runtime: Runtime) -> AnalysisCache:
    cache = runtime.extras.get(ANALYSIS_CACHE)
    if not isinstance(cache, AnalysisCache):
        cache = AnalysisCache(runtime.cache, runtime.metrics, runtime.settings.analysis_cache_ttl_s)
        runtime.extras[ANALYSIS_CACHE] = cache
    return cache


def _json_default(value: object) -> object:
    if isinstance(value, datetime | date):
        return value.isoformat()
    raise TypeError(f"not JSON serialisable: {type(value).__name__}")


def plain_json(value: Any) -> Any:
    """The value as it reads back from JSON: identical whether served from cache or computed."""
    return json.loads(json.dumps(value, default=_json_default))


def _iso(value: datetime | None) -> str | None:
    return None if value is None else value.isoformat()


async def data_version(runtime: Runtime, org_id: str) -> int:
    async def read(session: Any) -> int:
        return await UsageRepository(session, org_id).version()

    return await runtime.db.run(read)


# The CSV export: timestamps as Unix microseconds, batch as 0/1 (see export_csv).
_EXPORT_SCHEMA = {**SCHEMA, "timestamp": pl.Int64(), "batch": pl.Int8()}


def _frame_from_export(path: str) -> pl.DataFrame:
    if os.path.getsize(path) == 0:
        return pl.DataFrame(schema=SCHEMA)
    frame = pl.read_csv(
        path,
        has_header=False,
        new_columns=list(SCHEMA),
        schema=_EXPORT_SCHEMA,
        quote_char='"',
    )
    return frame.with_columns(
        pl.col("timestamp").cast(SCHEMA["timestamp"]), pl.col("batch").cast(pl.Boolean())
    )


def _frame_part(columns: dict[str, list[Any]]) -> pl.DataFrame:
    return pl.DataFrame(columns, schema=SCHEMA, strict=False)


async def load_frame(
    db: Database, org_id: str, start: datetime | None, end: datetime | None
) -> pl.DataFrame:
    """The org's records in ``[start, end)`` as the engine's frame. PostgreSQL exports them to
    a temporary CSV file read by Polars; elsewhere they are read in chunks of rows."""
    if db.engine.dialect.name == "postgresql":
        fd, path = tempfile.mkstemp(prefix="netra-frame-", suffix=".csv")
        os.close(fd)
        try:

            async def export(session: AsyncSession) -> None:
                await UsageRepository(session, org_id).export_csv(start, end, path)

            await db.run(export)
            return conform(await anyio.to_thread.run_sync(_frame_from_export, path))
        finally:
            os.unlink(path)

    async def read(session: AsyncSession) -> list[pl.DataFrame]:
        parts: list[pl.DataFrame] = []
        async for columns in UsageRepository(session, org_id).column_chunks(start, end):
            parts.append(await anyio.to_thread.run_sync(_frame_part, columns))
        return parts

    parts = await db.run(read)
    if not parts:
        return conform(pl.DataFrame(schema=SCHEMA))
    return conform(pl.concat(parts))


async def report_for(
    runtime: Runtime, org_id: str, start: datetime | None, end: datetime | None
) -> tuple[dict[str, Any], str]:
    """The analysis report of the org's usage in ``[start, end)`` and how the cache served it."""
    version = await data_version(runtime, org_id)

    async def compute() -> dict[str, Any]:
        frame = await load_frame(runtime.db, org_id, start, end)
        report = await anyio.to_thread.run_sync(lambda: analyze(frame, start=start, end=end))
        return dict(plain_json(report))

    key = cache_key("report", org_id, version, _iso(start), _iso(end))
    report, how = await analysis_cache(runtime).get_or_compute(key, compute)
    return report, how


async def summary_for(
    runtime: Runtime, org_id: str, group_by: str, start: datetime | None, end: datetime | None
) -> tuple[list[dict[str, Any]], str]:
    version = await data_version(runtime, org_id)

    async def compute() -> list[dict[str, Any]]:
        frame = await load_frame(runtime.db, org_id, start, end)
        groups = await anyio.to_thread.run_sync(lambda: summary(frame, group_by))
        return list(plain_json(groups))

    key = cache_key("summary", org_id, version, group_by, _iso(start), _iso(end))
    groups, how = await analysis_cache(runtime).get_or_compute(key, compute)
    return groups, how


async def store_report(runtime: Runtime, org_id: str, report: dict[str, Any]) -> dict[str, Any]:
    """Store ``report``; returns it with its ``id`` and ``created_at``. Once committed, the
    org's ``analysis.completed`` webhooks are told (recorded and delivered in the background)."""
    clean = plain_json(report)

    async def save(session: Any) -> dict[str, Any]:
        stored = await AnalysisRepository(session, org_id).save(clean)
        return {"id": stored.id, "created_at": stored.created_at.isoformat(), **clean}

    saved = await runtime.db.run(save)
    await emit_event(runtime, org_id, "analysis.completed", completed_event(saved))
    return saved


def completed_event(saved: dict[str, Any]) -> dict[str, Any]:
    """The ``data`` of an ``analysis.completed`` webhook: the headline numbers and the id to
    fetch the whole report with (``GET /api/v1/analyses/{id}``)."""
    keys = ("period", "records", "total_cost_usd", "projected_savings_usd")
    return {"analysis_id": saved["id"], **{k: saved.get(k) for k in keys}}


async def stored_report(runtime: Runtime, org_id: str, report_id: str) -> dict[str, Any] | None:
    async def read(session: Any) -> dict[str, Any] | None:
        stored = await AnalysisRepository(session, org_id).get(report_id)
        if stored is None:
            return None
        return {"id": stored.id, "created_at": stored.created_at.isoformat(), **stored.report}

    return await runtime.db.run(read)
