"""Analyses and summaries of an organisation's stored usage, through the analysis cache.

The numbers come from the pure engine (``netra.analysis``); this module only loads the org's
records, keys the cache by the org's data version, and stores reports.
"""

from __future__ import annotations

import json
from datetime import date, datetime
from typing import Any

import anyio.to_thread

from netra.analysis.engine import analyze, summary
from netra.billing.webhooks import emit_event
from netra.core.runtime import Runtime
from netra.reports.cache import ANALYSIS_CACHE, AnalysisCache, cache_key
from netra.reports.repository import AnalysisRepository
from netra.usage.service import data_version, load_frame

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
    runtime: Runtime,
    org_id: str,
    group_by: str,
    start: datetime | None,
    end: datetime | None,
    split_by: str | None = None,
) -> tuple[list[dict[str, Any]], str]:
    version = await data_version(runtime, org_id)

    async def compute() -> list[dict[str, Any]]:
        frame = await load_frame(runtime.db, org_id, start, end)
        groups = await anyio.to_thread.run_sync(lambda: summary(frame, group_by, split_by=split_by))
        return list(plain_json(groups))

    key = cache_key("summary", org_id, version, group_by, split_by, _iso(start), _iso(end))
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
