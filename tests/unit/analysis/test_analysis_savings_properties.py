"""Property tests: savings are >= 0, <= the cost they come from, and never counted twice."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import polars as pl
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from netra.analysis.engine import analyze
from netra.analysis.findings import Candidate, settle
from support.usage_rows import START, calls, frame

EPS = 1e-5
MODELS = [
    ("openai", "gpt-4o"),
    ("openai", "gpt-4o-mini"),
    ("anthropic", "claude-sonnet-4-5"),
    ("bedrock", "anthropic.claude-sonnet-4-5-20250929-v1:0"),
    ("google", "gemini-2.5-flash"),
]


@st.composite
def workloads(draw: st.DrawFn) -> pl.DataFrame:
    groups = []
    for i in range(draw(st.integers(1, 4))):
        provider, model = draw(st.sampled_from(MODELS))
        n = draw(st.integers(50, 120))
        rows = calls(
            n,
            feature=f"f{i % 3}",  # features may share rows' scope across models
            provider=provider,
            model=model,
            input_tokens=draw(st.sampled_from([300, 2_000, 9_000])),
            output_tokens=draw(st.sampled_from([4, 60, 400])),
            every=draw(st.sampled_from([timedelta(minutes=1), timedelta(hours=3)])),
            start=START + timedelta(hours=draw(st.integers(0, 30))),
            users=draw(st.sampled_from([0, 1, 30])),
        )
        fail = draw(st.floats(0, 0.5))
        dup = draw(st.floats(0, 0.6))
        for j, row in enumerate(rows):
            if j < fail * n:
                row["status"] = "timeout"
            if (j * 7919) % 100 < dup * 100:
                row["prompt_hash"] = f"same-{i}"
        groups.append(rows)
    return frame(*groups)


def _check(report: dict[str, Any]) -> None:
    total = report["total_cost_usd"]
    individual = 0.0
    for f in report["findings"]:
        assert 0.0 <= f["savings_usd"] <= f["current_cost_usd"] + EPS
        assert f["projected_cost_usd"] >= 0.0
        assert abs(f["current_cost_usd"] - f["projected_cost_usd"] - f["savings_usd"]) < EPS
        individual += f["savings_usd"]
    assert 0.0 <= report["projected_savings_usd"] <= total + EPS
    assert report["projected_savings_usd"] <= individual + EPS * (1 + len(report["findings"]))
    best = max((f["savings_usd"] for f in report["findings"]), default=0.0)
    assert report["projected_savings_usd"] >= best - EPS


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(workloads())
def test_engine_savings_bounds(df: pl.DataFrame) -> None:
    _check(analyze(df))


@st.composite
def overlapping(draw: st.DrawFn) -> tuple[pl.DataFrame, list[Candidate]]:
    n = draw(st.integers(1, 40))
    costs = draw(st.lists(st.floats(0, 10, allow_nan=False), min_size=n, max_size=n))
    df = pl.DataFrame({"cost": costs, "i": list(range(n))})
    candidates = []
    for k in range(draw(st.integers(1, 6))):
        rows = draw(st.sets(st.integers(0, n - 1), min_size=1))
        keep = draw(st.floats(0, 1))
        candidates.append(
            Candidate(
                kind="retry_waste",
                title=str(k),
                detail="",
                scope={"k": k},
                mask=pl.col("i").is_in(sorted(rows)),
                keep=pl.lit(keep),
                confidence="high",
            )
        )
    return df, candidates


@settings(max_examples=200, deadline=None)
@given(overlapping())
def test_overlapping_findings_never_count_a_dollar_twice(
    case: tuple[pl.DataFrame, list[Candidate]],
) -> None:
    df, candidates = case
    findings, combined = settle(df, candidates)
    touched = pl.any_horizontal([c.mask for c in candidates])
    union_cost = df.select(pl.col("cost").filter(touched).sum()).item()
    individual = [f["savings_usd"] for f in findings]
    # at most what the touched rows cost, at most the sum, at least the best single finding
    assert combined <= union_cost + EPS
    assert combined <= sum(individual) + EPS * (1 + len(individual))
    assert combined >= max(individual, default=0.0) - EPS
