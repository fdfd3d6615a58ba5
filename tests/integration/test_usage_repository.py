"""Usage storage on real PostgreSQL: COPY-based batches, deduplication, tenancy, versions and
concurrent writers (area I9)."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from dataclasses import replace
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from netra.analysis.frame import frame_from_records
from netra.core.db import Database
from netra.core.migrate import upgrade
from netra.core.observability import Metrics
from netra.core.settings import Settings
from netra.records.record import RowError, UsageRecord
from netra.usage.ingest import BatchWriter, IngestResult, RejectedRows, ingest_records
from netra.usage.models import UsageRow
from netra.usage.repository import UsageRepository
from netra.usage.service import load_frame

T0 = datetime(2026, 11, 1, tzinfo=UTC)


def record(i: int, *, rid: str | None = "auto", **changes: object) -> UsageRecord:
    base = UsageRecord(
        timestamp=T0 + timedelta(minutes=i),
        provider="openai",
        model="gpt-4o",
        input_tokens=100 + i,
        output_tokens=10,
        cached_input_tokens=5,
        cache_write_tokens=4,
        cache_write_1h_tokens=i % 3,
        latency_ms=120.5,
        cost_usd=0.01 if i % 2 else None,
        feature="chat",
        user=f"u{i}",
        prompt_hash="h",
        request_id=f"r{i}" if rid == "auto" else rid,
        batch=i % 3 == 0,
        requests=1 + i % 4,
        conversation_id=f"conv-{i // 2}",
    )
    return replace(base, **changes)  # type: ignore[arg-type]


@pytest.fixture(params=["postgresql", "sqlite"])
async def db(request, pg_settings, tmp_path) -> AsyncIterator[Database]:  # type: ignore[no-untyped-def]
    """The same storage contract on both engines (SQLite: a migrated temporary file)."""
    if request.param == "postgresql":
        settings: Settings = pg_settings()
    else:
        settings = pg_settings(database_url=f"sqlite+aiosqlite:///{tmp_path / 'usage.db'}")
    database = Database(settings)
    if request.param == "sqlite":
        await upgrade(database.engine)
    yield database
    await database.close()


async def insert(db: Database, org: str, records: list[UsageRecord]) -> int:
    async def work(session: AsyncSession) -> int:
        return await UsageRepository(session, org).insert(records)

    return await db.run(work)


async def stored(db: Database, org: str) -> list[UsageRecord]:
    async def work(session: AsyncSession) -> list[UsageRecord]:
        return await UsageRepository(session, org).load()

    return await db.run(work)


async def test_every_field_round_trips_and_duplicates_store_once(db: Database) -> None:
    org = "org-roundtrip"
    batch = [record(i) for i in range(10)] + [record(3), record(4, model="other")]
    batch += [record(20, rid=None), record(20, rid=None)]  # no request_id: both kept
    assert await insert(db, org, batch) == 12
    assert await insert(db, org, [record(i) for i in range(12)]) == 2  # r10, r11 are new
    back = await stored(db, org)
    assert len(back) == 14
    by_id = {r.request_id: r for r in back}
    assert by_id["r1"] == record(1)  # every field, timezone included
    assert by_id["r4"].model == "gpt-4o"  # the first one wins
    assert sum(r.request_id is None for r in back) == 2


async def test_values_that_csv_must_quote_or_round_exactly_are_stored_as_sent(db: Database) -> None:
    """The batch reaches PostgreSQL as CSV: separators, quotes, line breaks, padding, a lone
    quote, microseconds and floats with many digits come back unchanged."""
    odd = ["a,b", 'say "hi"', "line\nbreak", " padded ", '"', "\\N", "ünï", "x\r"]
    batch = [
        record(i, rid=rid, feature=text, user=text, latency_ms=1 / 3 + i, cost_usd=1e-7 * (i + 1))
        for i, text in enumerate(odd)
        for rid in (f"k{i}", None)  # both ways in: deduplicated and straight
    ]
    batch.append(record(99, timestamp=T0 + timedelta(microseconds=123457), rid=None))
    assert await insert(db, "org-odd", batch) == len(batch)
    back = sorted(await stored(db, "org-odd"), key=lambda r: (r.timestamp, r.request_id or ""))
    assert back == sorted(batch, key=lambda r: (r.timestamp, r.request_id or ""))


@pytest.mark.parametrize("atomic", [False, True])
async def test_batches_after_one_with_duplicates_are_still_counted_exactly(
    db: Database, atomic: bool
) -> None:
    """New ids are COPY-ed straight in; a batch with a duplicate (stored, or twice in the
    batch) is deduplicated, and so is the next one (expected to have some) until one has none."""
    org = f"org-mixed-{atomic}"
    assert await insert(db, org, [record(1)]) == 1
    ids = [2, 1, 3, 3, 4, 5, 6, 7, 8, 8, 9, 10]  # batches of 2: [2,1] [3,3] [4,5] [6,7] [8,8]
    result = IngestResult()
    async with BatchWriter(db, org, result, atomic=atomic) as writer:
        await ingest_records([record(i) for i in ids], writer, batch_size=2)
    assert (result.accepted, result.duplicates) == (9, 3)
    assert sorted(int(r.request_id[1:]) for r in await stored(db, org) if r.request_id) == list(
        range(1, 11)
    )


async def test_organisations_never_see_or_block_each_other(db: Database) -> None:
    assert await insert(db, "org-a", [record(1), record(2)]) == 2
    assert await insert(db, "org-b", [record(1)]) == 1  # same request_id, other org: stored
    assert [r.request_id for r in await stored(db, "org-a")] == ["r1", "r2"]
    assert [r.request_id for r in await stored(db, "org-b")] == ["r1"]


async def test_load_filters_the_period_and_keeps_the_most_recent_under_a_limit(
    db: Database,
) -> None:
    org = "org-period"
    await insert(db, org, [record(i) for i in range(10)])

    async def work(session: AsyncSession) -> list[UsageRecord]:
        return await UsageRepository(session, org).load(
            T0 + timedelta(minutes=2), T0 + timedelta(minutes=8), 3
        )

    assert [r.request_id for r in await db.run(work)] == ["r5", "r6", "r7"]


async def test_version_moves_only_with_stored_records(db: Database) -> None:
    org = "org-version"
    metrics = Metrics()

    async def version() -> int:
        async def work(session: AsyncSession) -> int:
            return await UsageRepository(session, org).version()

        return await db.run(work)

    assert await version() == 0
    result = IngestResult()
    async with BatchWriter(db, org, result, metrics=metrics) as writer:
        await ingest_records([record(1), record(2)], writer, 1)
    assert (result.accepted, await version()) == (2, 2)  # one bump per committed batch
    async with BatchWriter(db, org, IngestResult(), metrics=metrics) as writer:
        await ingest_records([record(1)], writer, 10)
    assert await version() == 2  # a pure duplicate changes nothing
    assert metrics.usage_records.labels("accepted")._value.get() == 2  # type: ignore[attr-defined]
    assert metrics.usage_records.labels("duplicate")._value.get() == 1  # type: ignore[attr-defined]


async def test_atomic_ingest_stores_nothing_when_a_row_is_rejected(db: Database) -> None:
    org = "org-atomic"
    items: list[UsageRecord | RowError] = [record(i) for i in range(6)]
    items.append(RowError(7, "model", "missing required field"))
    result = IngestResult()
    with pytest.raises(RejectedRows):
        async with BatchWriter(db, org, result, atomic=True) as writer:
            await ingest_records(items, writer, batch_size=2)  # 3 batches written, then undone
    assert result.rejected_count == 1
    assert await stored(db, org) == []
    result = IngestResult()
    async with BatchWriter(db, org, result, atomic=True) as writer:
        await ingest_records(items[:6], writer, batch_size=2)
    assert result.accepted == 6 and len(await stored(db, org)) == 6


async def test_per_row_mode_keeps_committed_batches_when_a_later_one_fails(db: Database) -> None:
    org = "org-partial"
    result = IngestResult()
    with pytest.raises(RuntimeError):
        async with BatchWriter(db, org, result) as writer:
            await ingest_records([record(i) for i in range(4)], writer, batch_size=2)
            await writer.drain()
            raise RuntimeError("client went away")
    assert len(await stored(db, org)) == 4 == result.accepted


async def test_concurrent_writers_store_each_request_id_once(db: Database) -> None:
    """Eight writers send overlapping slices of the same 2,000 records at once."""
    org = "org-concurrent"
    records = [record(i, input_tokens=i) for i in range(2000)]
    slices = [records[start : start + 800] for start in range(0, 1600, 200)]

    async def writer(part: list[UsageRecord]) -> IngestResult:
        result = IngestResult()
        async with BatchWriter(db, org, result) as w:
            await ingest_records(part, w, batch_size=100)
        return result

    results = await asyncio.gather(*(writer(part) for part in slices))
    sent = {r.request_id for part in slices for r in part}
    assert sum(r.accepted for r in results) == len(sent)
    assert sum(r.accepted + r.duplicates for r in results) == sum(map(len, slices))

    async def totals(session: AsyncSession) -> tuple[int, int, int]:
        row = (
            await session.execute(
                select(
                    func.count(),
                    func.count(func.distinct(UsageRow.request_id)),
                    func.sum(UsageRow.input_tokens),
                ).where(UsageRow.org_id == org)
            )
        ).one()
        return int(row[0]), int(row[1]), int(row[2])

    expected_tokens = sum(r.input_tokens for r in records if r.request_id in sent)
    assert await db.run(totals) == (len(sent), len(sent), expected_tokens)


async def test_the_analysis_frame_loads_exactly_what_was_stored(db: Database) -> None:
    """The frame the engine gets (built chunk by chunk from the driver) equals the frame of the
    stored records, on both engines; the period filter is half-open."""
    org = "org-frame"
    awkward = ['a,b "quoted"\nnext line', "naïve ✓ 🙂", " ", "\\N", "NULL", '""']
    batch = [
        record(i, feature=None if i % 4 == 0 else awkward[i % len(awkward)], cost_usd=None)
        for i in range(7)
    ]
    batch[1] = replace(batch[1], latency_ms=0.1 + 0.2, cost_usd=1e-9, batch=True)
    batch[2] = replace(batch[2], conversation_id=awkward[0], requests=2**40)
    await insert(db, org, batch)
    await insert(db, "org-other", [record(1)])
    frame = await load_frame(db, org, None, None)
    assert frame.equals(frame_from_records(await stored(db, org)))
    assert frame.height == 7 and frame["timestamp"][0] == T0
    part = await load_frame(db, org, T0 + timedelta(minutes=2), T0 + timedelta(minutes=5))
    assert part["request_id"].to_list() == ["r2", "r3", "r4"]
    assert (await load_frame(db, "org-nobody", None, None)).height == 0
