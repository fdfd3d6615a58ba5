"""Request and response bodies of the summary and analyses endpoints (API.md "Analysis report").

The models are open (``extra="allow"``): the engine may add fields, and a client generated from
the schema keeps them. What is declared here is what a client may rely on.
"""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, ConfigDict, Field

from netra.core.inputs import Text


class _Open(BaseModel):
    model_config = ConfigDict(extra="allow")


class AnalysisRequest(BaseModel):
    start: Text | float | None = Field(
        default=None, description="RFC 3339 / ISO 8601 or Unix seconds", examples=["2026-11-01"]
    )
    end: Text | float | None = Field(default=None, description="exclusive")


class Period(_Open):
    start: str | None = None
    end: str | None = None


class Group(_Open):
    """One group of a summary or a breakdown: its key and totals. ``unpriced_records`` are
    records no price is known for: their cost is not in ``cost_usd`` (never priced as $0)."""

    key: str | None = Field(description="the group's value (null: records without it)")
    provider: str | None = None
    records: int
    requests: int | None = Field(
        default=None, description="calls the records add up (a rollup row counts many)"
    )
    cost_usd: float | None = Field(
        description="the priced records' cost; null when none of the group's records is priced"
    )
    input_tokens: int | None = None
    output_tokens: int | None = None
    cached_input_tokens: int | None = None
    unpriced_records: int = 0
    failed_records: int | None = None
    share_pct: float | None = None


class Summary(_Open):
    group_by: str
    period: Period
    groups: list[Group]


class Unpriced(_Open):
    provider: str
    model: str
    records: int


class Breakdown(_Open):
    by_model: list[Group]
    by_provider: list[Group]
    by_feature: list[Group]
    by_day: list[Group]


class Finding(_Open):
    kind: str = Field(examples=["model_rightsizing"])
    title: str
    detail: str
    scope: dict[str, Any]
    affected_records: int
    current_cost_usd: float | None
    projected_cost_usd: float | None
    savings_usd: float | None
    confidence: str = Field(description="high, medium or low")
    evidence: dict[str, Any]


class Forecast(_Open):
    monthly_run_rate_usd: float | None


class AnalysisReport(_Open):
    """A stored analysis report (API.md "Analysis report"), with its id."""

    id: str
    created_at: str
    period: Period
    records: int
    priced_records: int
    unpriced: list[Unpriced]
    total_cost_usd: float | None
    breakdown: Breakdown
    findings: list[Finding]
    projected_savings_usd: float | None
    projected_savings_pct: float | None
    forecast: Forecast
    requests: int | None = Field(default=None, description="calls the records add up")
    pricing_notes: list[str] = Field(
        default_factory=list,
        description="pricing rules beyond the catalogue used in this report (docs/pricing.md)",
    )
