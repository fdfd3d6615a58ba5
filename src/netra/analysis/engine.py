"""The analysis engine: usage frame in, API.md analysis report out. Pure: no I/O.

``records`` counts rows, ``requests`` the calls they stand for (a rollup row adds up many);
``pricing_notes`` says which rules beyond the catalogue priced the records (published batch
discount, prices file, one-hour cache writes, per-call pricing of aggregated rows).
Money in the report is USD rounded to 6 decimals, percentages to 2 (``money.py``). Totals count
priced records only (billed ``cost_usd`` when given, else the catalogue price); records of models
the catalogue does not know and without ``cost_usd`` are listed under ``unpriced`` with their
count. Findings and the overlap rule: ``findings.py``; each detector: ``detectors/*.py``.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from datetime import UTC, datetime
from typing import Any

import polars as pl

from netra.analysis import breakdowns
from netra.analysis.detectors import (
    anomaly,
    arbitrage,
    batch,
    mismatch,
    prompt_caching,
    response_caching,
    retry,
    rightsizing,
)
from netra.analysis.detectors.base import Context
from netra.analysis.findings import Candidate, settle
from netra.analysis.forecast import forecast
from netra.analysis.frame import conform
from netra.analysis.money import pct, usd
from netra.analysis.pricing_notes import pricing_notes
from netra.pricing.catalogue import Catalogue, price_frame

Detector = Callable[[Context], list[Candidate]]
DETECTORS: tuple[Detector, ...] = (
    retry.detect,
    response_caching.detect,
    rightsizing.detect,
    arbitrage.detect,
    prompt_caching.detect,
    batch.detect,
    anomaly.detect,
    mismatch.detect,
)
# A finding must save at least this much to be reported (below it is noise to the reader).
MIN_SAVINGS_USD = 0.01
MIN_SAVINGS_SHARE = 0.0005


def _iso(value: datetime | None) -> str | None:
    return value.astimezone(UTC).isoformat().replace("+00:00", "Z") if value else None


def _utc(value: datetime | None) -> datetime | None:
    if value is None or value.tzinfo is not None:
        return value
    return value.replace(tzinfo=UTC)


def select_period(
    frame: pl.DataFrame, start: datetime | None, end: datetime | None
) -> pl.DataFrame:
    """Rows with start <= timestamp < end (either bound optional; naive bounds are UTC)."""
    start, end = _utc(start), _utc(end)
    if start is not None:
        frame = frame.filter(pl.col("timestamp") >= start)
    if end is not None:
        frame = frame.filter(pl.col("timestamp") < end)
    return frame


def analyze(
    frame: pl.DataFrame,
    *,
    start: datetime | None = None,
    end: datetime | None = None,
    catalogue: Catalogue | None = None,
    detectors: Sequence[Detector] = DETECTORS,
) -> dict[str, Any]:
    """The full analysis report of ``frame`` (rows of ``frame.SCHEMA``) between start and end."""
    catalogue = catalogue or Catalogue()
    start, end = _utc(start), _utc(end)
    usage = select_period(conform(frame), start, end)
    priced = price_frame(usage, catalogue)
    notes = pricing_notes(priced, catalogue)
    first = usage["timestamp"].min() if usage.height else None
    last = usage["timestamp"].max() if usage.height else None
    period_start = start or first
    period_end = end or last

    unpriced = (
        priced.filter(pl.col("cost").is_null())
        .group_by("provider", "model")
        .agg(pl.len().alias("records"))
        .sort(["records", "provider", "model"], descending=[True, False, False])
    )
    total = float(priced["cost"].sum() or 0.0)

    findings: list[dict[str, Any]] = []
    combined = 0.0
    if usage.height:
        ctx = Context.build(
            priced,
            catalogue,
            period_start or datetime.now(UTC),  # type: ignore[arg-type]
            period_end or datetime.now(UTC),  # type: ignore[arg-type]
        )
        candidates = [c for detect in detectors for c in detect(ctx)]
        floor = max(MIN_SAVINGS_USD, MIN_SAVINGS_SHARE * ctx.total_cost)
        findings, combined = settle(ctx.frame, candidates, min_savings=floor)
    combined = min(combined, total)

    return {
        "period": {"start": _iso(period_start), "end": _iso(period_end)},  # type: ignore[arg-type]
        "records": usage.height,
        "requests": int(usage["requests"].sum() or 0),
        "priced_records": int(priced["cost"].is_not_null().sum()),
        "unpriced": unpriced.to_dicts(),
        "total_cost_usd": usd(total),
        "breakdown": breakdowns.report_breakdowns(priced),
        "findings": findings,
        "projected_savings_usd": usd(combined),
        "projected_savings_pct": pct(100.0 * combined / total) if total > 0 else 0.0,
        "forecast": forecast(priced),
        "pricing_notes": notes,
    }


def summary(
    frame: pl.DataFrame,
    group_by: str,
    *,
    split_by: str | None = None,
    catalogue: Catalogue | None = None,
) -> list[dict[str, Any]]:
    """``GET /api/v1/usage/summary`` groups (see ``breakdowns.summary``), each split by a second
    dimension when ``split_by`` is given (``breakdowns.split_summary``)."""
    if split_by is not None:
        return breakdowns.split_summary(conform(frame), group_by, split_by, catalogue=catalogue)
    return breakdowns.summary(conform(frame), group_by, catalogue=catalogue)
