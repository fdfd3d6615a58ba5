"""Billing: a budget's spend from the usage table equals the engine's own pricing of the same
rows (billed cost first, else the catalogue at the record's time), scope by scope."""

from __future__ import annotations

import random
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from typing import Any

import polars as pl
import pytest
from sqlalchemy import insert

from netra.billing.spend import TableSpend
from netra.core.db import Base, Database
from netra.pricing.catalogue import Catalogue, price_frame
from netra.usage.models import UsageRow

MODELS = [
    ("openai", "gpt-4o"),
    ("openai", "gpt-4o-mini-2024-07-18"),  # an alias the catalogue resolves
    ("anthropic", "claude-sonnet-4-5"),  # long-context tier above 200k prompt tokens
    ("google", "gemini-1.5-pro"),
    ("acme", "mystery-1"),  # unknown: unpriced
]


@pytest.fixture
async def db(make_settings) -> AsyncIterator[Database]:  # type: ignore[no-untyped-def]
    database = Database(make_settings())
    async with database.engine.begin() as conn:
        await conn.run_sync(lambda c: Base.metadata.create_all(c, tables=[UsageRow.__table__]))
    yield database
    await database.close()


def _rows(n: int, seed: int) -> list[dict[str, Any]]:
    rng = random.Random(seed)
    start = datetime(2026, 10, 30, tzinfo=UTC)
    rows = []
    for _ in range(n):
        provider, model = rng.choice(MODELS)
        inp = rng.choice([500, 4_000, 150_000, 250_000])
        cached = rng.choice([0, inp // 4])
        writes = rng.choice([0, inp // 10])
        rows.append({
            "org_id": rng.choice(["org_a", "org_a", "org_b"]),
            "timestamp": start + timedelta(minutes=rng.randrange(5 * 24 * 60)),
            "provider": provider, "model": model, "input_tokens": inp,
            "output_tokens": rng.randrange(2_000), "cached_input_tokens": cached,
            "cache_write_tokens": writes, "status": "ok", "batch": rng.random() < 0.2,
            "feature": rng.choice(["chat", "search"]),
            "cost_usd": rng.choice([None, None, round(rng.random(), 4)]),
        })  # fmt: skip
    return rows


def _expected(rows: list[dict[str, Any]], keep: Any) -> tuple[float, int, int]:
    chosen = [r for r in rows if keep(r)]
    frame = pl.DataFrame(
        {k: [r[k] for r in chosen] for k in (
            "timestamp", "provider", "model", "input_tokens", "output_tokens",
            "cached_input_tokens", "cache_write_tokens", "batch", "cost_usd")},
        schema_overrides={"timestamp": pl.Datetime("us", "UTC"), "cost_usd": pl.Float64},
    )  # fmt: skip
    cost = price_frame(frame, Catalogue())["cost"]
    return float(cost.sum() or 0.0), len(chosen), int(cost.null_count())


async def test_spend_matches_the_engine_pricing_per_scope_and_window(db: Database) -> None:
    rows = _rows(600, seed=7)
    async with db.unit_of_work() as session:
        await session.execute(insert(UsageRow), rows)
    spend = TableSpend()
    start, end = datetime(2026, 10, 31, tzinfo=UTC), datetime(2026, 11, 3, tzinfo=UTC)
    in_window = lambda r: r["org_id"] == "org_a" and start <= r["timestamp"] < end  # noqa: E731
    cases = {
        "org": in_window,
        "feature:chat": lambda r: in_window(r) and r["feature"] == "chat",
        "model:claude-sonnet-4-5": lambda r: in_window(r) and r["model"] == "claude-sonnet-4-5",
        "model:gpt-4o": lambda r: in_window(r) and r["model"] == "gpt-4o",
        "feature:none": lambda r: False,
    }
    async with db.unit_of_work() as session:
        for scope, keep in cases.items():
            got = await spend(session, "org_a", scope, start, end)
            usd, records, unpriced = _expected(rows, keep)
            assert got.records == records, scope
            assert got.unpriced_records == unpriced, scope
            assert got.usd == pytest.approx(usd, rel=1e-9, abs=1e-9), scope
    assert any(r["input_tokens"] > 200_000 and r["model"] == "claude-sonnet-4-5"
               and r["cost_usd"] is None and in_window(r) for r in rows)  # fmt: skip
