"""The agents' view of the analysis engine: every number an answer quotes comes through here.

:class:`AnalysisEngine` delegates to ``netra.analysis`` (imported on first use, so the agents
package loads without the engine's heavy dependencies). Unit tests inject a fake with the same
methods. Results are converted to plain JSON values, ready for tool events.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from datetime import date, datetime
from typing import Any, Protocol

from netra.records.record import UsageRecord

# The engine's detector module names -> the tool name the optimizer shows for each.
DETECTOR_TOOLS: dict[str, str] = {
    "retry": "detect_retry_waste",
    "response_caching": "detect_response_caching",
    "rightsizing": "detect_model_rightsizing",
    "arbitrage": "detect_provider_arbitrage",
    "prompt_caching": "detect_prompt_caching",
    "batch": "detect_batch_eligible",
    "anomaly": "detect_spend_anomaly",
    "mismatch": "detect_cost_mismatch",
}

Detector = Callable[[Any], list[Any]]


def detector_tool(detector: Detector) -> str:
    module = str(getattr(detector, "__module__", "") or "").rsplit(".", 1)[-1]
    return DETECTOR_TOOLS.get(module, f"detect_{module or 'findings'}")


class Engine(Protocol):
    def frame(self, records: Sequence[UsageRecord]) -> Any: ...

    def detectors(self) -> Sequence[Detector]:
        """The engine's detectors, in the order it runs them."""
        ...

    def analyze(
        self,
        frame: Any,
        start: datetime | None,
        end: datetime | None,
        detectors: Sequence[Detector] | None = None,
    ) -> dict[str, Any]:
        """The analysis report of API.md, running ``detectors`` (default: all of them)."""
        ...

    def spend_breakdown(self, frame: Any, by: str) -> list[dict[str, Any]]: ...

    def top_spenders(self, frame: Any, by: str, n: int) -> list[dict[str, Any]]: ...

    def usage_trend(self, frame: Any, period: str) -> list[dict[str, Any]]: ...

    def totals(self, frame: Any) -> dict[str, Any]:
        """Records, calls, tokens, spend and monthly run rate of a frame (a scope's figures)."""
        ...

    def prices(self, provider: str, model: str, at: datetime) -> dict[str, float] | None:
        """The catalogue's USD per million tokens of a model at a time (None: unpriced)."""
        ...


class AnalysisEngine:
    """The real engine (``netra.analysis``)."""

    def frame(self, records: Sequence[UsageRecord]) -> Any:
        from netra.analysis.frame import frame_from_records

        return frame_from_records(list(records))

    def detectors(self) -> Sequence[Detector]:
        from netra.analysis.engine import DETECTORS

        return tuple(DETECTORS)

    def analyze(
        self,
        frame: Any,
        start: datetime | None,
        end: datetime | None,
        detectors: Sequence[Detector] | None = None,
    ) -> dict[str, Any]:
        from netra.analysis.engine import DETECTORS, analyze

        chosen = DETECTORS if detectors is None else detectors
        report: dict[str, Any] = jsonable(analyze(frame, start=start, end=end, detectors=chosen))
        return report

    def spend_breakdown(self, frame: Any, by: str) -> list[dict[str, Any]]:
        from netra.analysis.breakdowns import spend_breakdown

        return rows(spend_breakdown(frame, by))

    def top_spenders(self, frame: Any, by: str, n: int) -> list[dict[str, Any]]:
        from netra.analysis.breakdowns import top_spenders

        return rows(top_spenders(frame, by, n))

    def usage_trend(self, frame: Any, period: str) -> list[dict[str, Any]]:
        from netra.analysis.breakdowns import usage_trend

        return rows(usage_trend(frame, period=period))

    def totals(self, frame: Any) -> dict[str, Any]:
        import polars as pl

        from netra.analysis.breakdowns import ensure_priced
        from netra.analysis.forecast import forecast
        from netra.analysis.money import usd

        priced = ensure_priced(frame)
        calls = priced["requests"].sum() if "requests" in priced.columns else priced.height
        return jsonable(
            {
                "records": priced.height,
                "calls": int(calls or 0),
                "input_tokens": int(priced["input_tokens"].sum() or 0),
                "output_tokens": int(priced["output_tokens"].sum() or 0),
                "cost_usd": usd(float(priced["cost"].sum() or 0.0)),
                "unpriced_records": int(priced["cost"].is_null().sum()),
                "first": priced["timestamp"].min() if priced.height else None,
                "last": priced["timestamp"].max() if priced.height else None,
                "monthly_run_rate_usd": forecast(priced)["monthly_run_rate_usd"],
                "failed_records": int(priced.filter(pl.col("status") != "ok").height),
            }
        )

    def prices(self, provider: str, model: str, at: datetime) -> dict[str, float] | None:
        from netra.pricing.catalogue import Catalogue, normalize_provider

        catalogue = Catalogue()
        resolved = catalogue.resolve(provider, model) or model
        rates = catalogue.rates(normalize_provider(provider), resolved, at)
        if rates is None:
            return None
        units = {
            "input": rates.input,
            "cached_input": rates.cache_read,
            "cache_write": rates.cache_write,
            "output": rates.output,
        }
        return {name: round(rate.base * 1e6, 4) for name, rate in units.items()}


def rows(value: Any) -> list[dict[str, Any]]:
    """A table from the engine (polars DataFrame, list of dicts or of dataclasses) as JSON rows."""
    if hasattr(value, "to_dicts"):
        value = value.to_dicts()
    elif hasattr(value, "as_dict"):
        value = value.as_dict()
    if isinstance(value, dict):
        # {"rows": [...]} or {label: cost}
        if isinstance(value.get("rows"), list):
            value = value["rows"]
        else:
            value = [{"key": k, "cost_usd": v} for k, v in value.items()]
    out: list[dict[str, Any]] = []
    for row in value or []:
        if hasattr(row, "as_dict"):
            row = row.as_dict()
        elif hasattr(row, "_asdict"):
            row = row._asdict()
        elif hasattr(row, "__dataclass_fields__"):
            row = {k: getattr(row, k) for k in row.__dataclass_fields__}
        out.append(jsonable(dict(row)))
    return out


def jsonable(value: Any) -> Any:
    """Plain JSON values: datetimes as ISO strings, NaN as None, tuples as lists."""
    if isinstance(value, dict):
        return {str(k): jsonable(v) for k, v in value.items()}
    if isinstance(value, list | tuple | set | frozenset):
        return [jsonable(v) for v in value]
    if isinstance(value, datetime | date):
        return value.isoformat()
    if isinstance(value, float) and not math.isfinite(value):
        return None
    if hasattr(value, "item") and callable(value.item):  # numpy / polars scalars
        try:
            return jsonable(value.item())
        except (TypeError, ValueError):
            return str(value)
    if value is None or isinstance(value, str | int | float | bool):
        return value
    return str(value)
