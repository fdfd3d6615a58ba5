"""Analyses and summaries of an organisation's stored usage, through the analysis cache.

The numbers come from the pure engine (``netra.analysis``); this module only loads the org's
records, keys the cache by the org's data version, and stores reports.
"""

from __future__ import annotations

import json
import math
from datetime import date, datetime
from typing import Any

import anyio.to_thread
import structlog
from sqlalchemy import func
from sqlalchemy.ext.asyncio import AsyncSession

from netra.analysis.engine import analyze, summary
from netra.billing.webhooks import Deliver, deliver_via, emit_event
from netra.core.context import UserContext
from netra.core.db import after_commit
from netra.core.errors import LimitReached
from netra.core.runtime import Runtime
from netra.core.window_limit import WindowLimit
from netra.reports.cache import ANALYSIS_CACHE, AnalysisCache, cache_key
from netra.reports.repository import AnalysisRepository
from netra.tiers import Limit, check, limits_for
from netra.usage.models import UsageRow
from netra.usage.repository import UsageRepository
from netra.usage.service import data_version, load_frame

log = structlog.get_logger("netra.reports")

GROUPS = ("model", "provider", "feature", "user", "day")


def analysis_cache(runtime: Runtime) -> AnalysisCache:
    cache = runtime.services.get(ANALYSIS_CACHE)
    if cache is None:
        cache = AnalysisCache(runtime.cache, runtime.metrics, runtime.settings.analysis_cache_ttl_s)
        runtime.services.provide(ANALYSIS_CACHE, cache)
    return cache


def _json_default(value: object) -> object:
    if isinstance(value, datetime | date):
        return value.isoformat()
    raise TypeError(f"not JSON serialisable: {type(value).__name__}")


def _finite(value: Any) -> Any:
    if isinstance(value, float) and not math.isfinite(value):
        return None
    if isinstance(value, dict):
        return {k: _finite(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_finite(v) for v in value]
    return value


def plain_json(value: Any) -> Any:
    """The value as it reads back from JSON: identical whether served from cache or computed.
    A non-finite number (which JSON and the report store refuse) becomes null: the last line
    of defence, should one ever get past the record bounds."""
    return _finite(json.loads(json.dumps(value, default=_json_default)))


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


REUSE_KEY = "analysis:stored"


async def create_analysis(
    runtime: Runtime,
    session: AsyncSession,
    user: UserContext,
    start: datetime | None,
    end: datetime | None,
) -> tuple[dict[str, Any], str]:
    """``POST /api/v1/analyses``: the tier's analyses rate and record cap, then the report,
    stored once per (data version, period): asking again while nothing changed gives the stored
    one (same id, no second ``analysis.completed`` event)."""
    limits = limits_for(runtime.settings, user.tier)
    used, wait_s = await WindowLimit(runtime.cache, "analyses", 60).take(user.org_id)
    check(limits, Limit.ANALYSES_PER_MIN, used, retry_after_s=wait_s)
    org_id = user.org_id
    version = await data_version(runtime, org_id)
    reuse_key = cache_key(REUSE_KEY, org_id, version, _iso(start), _iso(end))
    previous = await _stored_id(runtime, reuse_key)
    if previous is not None:
        found = await stored_report(session, org_id, previous)
        if found is not None:
            runtime.metrics.cache.labels("hit").inc()  # served through the shared cache
            return found, "hit"
    records = await _count(session, org_id, start, end)
    if records > limits.max_records:
        raise LimitReached(
            f"the period holds {records} usage records; the {limits.tier} tier analyses at most "
            f"{limits.max_records} at once: narrow start and end, or upgrade",
            kind="count",
            limit=Limit.MAX_RECORDS.value,
            details={"records": records, "limit": limits.max_records, "tier": limits.tier},
        )
    report, how = await report_for(runtime, org_id, start, end)
    stored = await store_report(session, org_id, report, deliver_via(runtime))

    async def remember() -> None:
        try:
            await runtime.cache.set(
                reuse_key, stored["id"].encode(), ttl_s=runtime.settings.analysis_cache_ttl_s
            )
        except Exception as exc:  # the cache is optional: the next call stores another report
            log.warning("analysis reuse key not written", error=str(exc))

    after_commit(session, remember)  # only a committed report may be reused
    return stored, how


async def _stored_id(runtime: Runtime, key: str) -> str | None:
    try:
        raw = await runtime.cache.get(key)
    except Exception:
        return None
    return raw.decode() if raw else None


async def _count(
    session: AsyncSession, org_id: str, start: datetime | None, end: datetime | None
) -> int:
    repo = UsageRepository(session, org_id)
    stmt = repo.select(func.count()).select_from(UsageRow)
    if start is not None:
        stmt = stmt.where(UsageRow.timestamp >= start)
    if end is not None:
        stmt = stmt.where(UsageRow.timestamp < end)
    return int((await session.execute(stmt)).scalar_one())


async def store_report(
    session: AsyncSession,
    org_id: str,
    report: dict[str, Any],
    deliver: Deliver | None = None,
    *,
    report_id: str | None = None,
) -> dict[str, Any]:
    """Store ``report`` in the caller's unit of work, with the org's ``analysis.completed``
    webhook event (delivered once committed); returns it with its ``id`` and ``created_at``.
    With ``report_id``, a report already stored under that id is returned as it is (no second
    row, no second event)."""
    if report_id is not None:
        existing = await stored_report(session, org_id, report_id)
        if existing is not None:
            return existing
    clean = plain_json(report)
    stored = await AnalysisRepository(session, org_id).save(clean, report_id)
    saved = {"id": stored.id, "created_at": stored.created_at.isoformat(), **clean}
    await emit_event(session, org_id, "analysis.completed", completed_event(saved), deliver=deliver)
    return saved


def completed_event(saved: dict[str, Any]) -> dict[str, Any]:
    """The ``data`` of an ``analysis.completed`` webhook: the headline numbers and the id to
    fetch the whole report with (``GET /api/v1/analyses/{id}``)."""
    keys = ("period", "records", "total_cost_usd", "projected_savings_usd")
    return {"analysis_id": saved["id"], **{k: saved.get(k) for k in keys}}


async def stored_report(
    session: AsyncSession, org_id: str, report_id: str
) -> dict[str, Any] | None:
    stored = await AnalysisRepository(session, org_id).get(report_id)
    if stored is None:
        return None
    return {"id": stored.id, "created_at": stored.created_at.isoformat(), **stored.report}
