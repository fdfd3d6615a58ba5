"""Builders for small hand-made usage frames (analysis and usage tests)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from itertools import count
from typing import Any

import polars as pl

from netra.analysis.frame import conform

START = datetime(2026, 11, 2, tzinfo=UTC)  # after the catalogue's batch prices start
_ids = count()


def calls(
    n: int,
    *,
    feature: str = "f",
    provider: str = "openai",
    model: str = "gpt-4o",
    input_tokens: int = 1000,
    output_tokens: int = 200,
    start: datetime = START,
    every: timedelta = timedelta(minutes=7),
    users: int = 20,
    **fields: Any,
) -> list[dict[str, Any]]:
    """``n`` calls ``every`` apart, each with a unique prompt hash and request id."""
    out = []
    for i in range(n):
        k = next(_ids)
        row = {
            "timestamp": start + i * every,
            "provider": provider,
            "model": model,
            "input_tokens": input_tokens,
            "output_tokens": output_tokens,
            "feature": feature,
            "user": f"u{i % users}" if users else None,
            "prompt_hash": f"h{k}",
            "request_id": f"r{k}",
        }
        row.update(fields)
        out.append(row)
    return out


def frame(*groups: list[dict[str, Any]]) -> pl.DataFrame:
    rows = [row for group in groups for row in group]
    return conform(pl.DataFrame(rows, infer_schema_length=None))
