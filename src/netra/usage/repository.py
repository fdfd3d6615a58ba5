"""Tenant-scoped storage of usage records, and data versions.

Bulk inserts take a batch of records, or a frame of them (the fast parser's: no Python object
per row), and the fastest path of each engine. On PostgreSQL the batch is ``COPY``-ed (records
in asyncpg's binary format, a frame as CSV written by Polars) straight into ``usage_records``
(behind a savepoint for rows with a ``request_id``); when the unique index on ``(org_id,
request_id)`` refuses a duplicate (stored already or twice in the batch), the batch's keyed
rows are ``COPY``-ed into a session temp table instead and moved with ``INSERT ... SELECT
... ON CONFLICT DO NOTHING``. On SQLite a multi-row ``INSERT ... ON CONFLICT DO NOTHING
RETURNING id``. Both return how many rows were new, so duplicates are counted, never guessed.
"""

from __future__ import annotations

import io
from collections.abc import AsyncIterator, Sequence
from datetime import datetime
from typing import Any

import asyncpg
import polars as pl
from sqlalchemy import func, select, text
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert

from netra.core.db import utcnow
from netra.core.repository import OrgRepository
from netra.records.record import FIELDS, UsageRecord
from netra.usage.models import UsageRow, UsageVersion

# Stored column order; ``end_user`` holds the record's ``user``.
COLUMNS: tuple[str, ...] = (
    "org_id",
    "timestamp",
    "provider",
    "model",
    "input_tokens",
    "output_tokens",
    "cached_input_tokens",
    "cache_write_tokens",
    "latency_ms",
    "status",
    "cost_usd",
    "feature",
    "end_user",
    "prompt_hash",
    "request_id",
    "retry_of",
    "batch",
    "requests",
    "conversation_id",
    "cache_write_1h_tokens",
)

_REQUEST_ID = COLUMNS.index("request_id")
_TEMP_TABLE = "usage_ingest"
_CREATE_TEMP = f"""
CREATE TEMP TABLE IF NOT EXISTS {_TEMP_TABLE} (
    org_id varchar(32) NOT NULL, "timestamp" timestamptz NOT NULL, provider text NOT NULL,
    model text NOT NULL, input_tokens bigint NOT NULL, output_tokens bigint NOT NULL,
    cached_input_tokens bigint NOT NULL, cache_write_tokens bigint NOT NULL,
    latency_ms double precision, status varchar(16) NOT NULL, cost_usd double precision,
    feature text, end_user text, prompt_hash text, request_id text, retry_of text,
    batch boolean NOT NULL, requests bigint NOT NULL, conversation_id text,
    cache_write_1h_tokens bigint NOT NULL
) ON COMMIT DELETE ROWS
"""
_COLUMN_LIST = ", ".join(f'"{c}"' for c in COLUMNS)
_MOVE = (
    f"INSERT INTO usage_records ({_COLUMN_LIST}) SELECT {_COLUMN_LIST} FROM {_TEMP_TABLE} "
    "ON CONFLICT (org_id, request_id) WHERE request_id IS NOT NULL DO NOTHING"
)

_PG_EXPORT = (
    'SELECT (extract(epoch FROM "timestamp") * 1000000)::bigint, provider, model, '
    "input_tokens, output_tokens, cached_input_tokens, cache_write_tokens, latency_ms, status, "
    "cost_usd, feature, end_user, prompt_hash, request_id, retry_of, batch::int, requests, "
    "conversation_id, cache_write_1h_tokens "
    "FROM usage_records WHERE org_id = $1 "
    'AND ($2::timestamptz IS NULL OR "timestamp" >= $2) '
    'AND ($3::timestamptz IS NULL OR "timestamp" < $3) '
    'ORDER BY "timestamp"'
)


def stored_columns(org_id: str, frame: pl.DataFrame) -> pl.DataFrame:
    """A frame of record fields (``analysis.frame.SCHEMA``) as stored rows, :data:`COLUMNS`
    order (``user`` is stored as ``end_user``)."""
    return frame.select(
        pl.lit(org_id, pl.String).alias("org_id"),
        *[pl.col("user" if c == "end_user" else c).alias(c) for c in COLUMNS[1:]],
    )


def record_row(org_id: str, r: UsageRecord) -> tuple[Any, ...]:
    """The stored tuple of one record, in :data:`COLUMNS` order."""
    return (
        org_id,
        r.timestamp,
        r.provider,
        r.model,
        r.input_tokens,
        r.output_tokens,
        r.cached_input_tokens,
        r.cache_write_tokens,
        None if r.latency_ms is None else float(r.latency_ms),
        r.status,
        None if r.cost_usd is None else float(r.cost_usd),
        r.feature,
        r.user,
        r.prompt_hash,
        r.request_id,
        r.retry_of,
        bool(r.batch),
        int(r.requests),
        r.conversation_id,
        int(r.cache_write_1h_tokens),
    )


# Stored rows: a frame (the fast parser's, COPY-ed as CSV written by Polars) or tuples
# (records built one by one, COPY-ed in asyncpg's binary format: cheaper than a frame for them).
Rows = pl.DataFrame | list[tuple[Any, ...]]


async def _copy(driver: Any, table: str, rows: Rows) -> int:
    """``COPY`` the rows into ``table``. A frame goes as CSV: a null is an unquoted empty
    field, an empty string is quoted, timestamps carry their offset, floats round-trip."""
    if isinstance(rows, list):
        status: str = await driver.copy_records_to_table(table, records=rows, columns=list(COLUMNS))
    else:
        text = rows.write_csv(include_header=False, datetime_format="%Y-%m-%dT%H:%M:%S%.6f%:z")
        status = await driver.copy_to_table(
            table, source=io.BytesIO(text.encode()), columns=list(COLUMNS), format="csv"
        )
    return int(status.rsplit(" ", 1)[-1])


_RECORD_COLUMNS = (
    UsageRow.timestamp,
    UsageRow.provider,
    UsageRow.model,
    UsageRow.input_tokens,
    UsageRow.output_tokens,
    UsageRow.cached_input_tokens,
    UsageRow.cache_write_tokens,
    UsageRow.latency_ms,
    UsageRow.status,
    UsageRow.cost_usd,
    UsageRow.feature,
    UsageRow.end_user,
    UsageRow.prompt_hash,
    UsageRow.request_id,
    UsageRow.retry_of,
    UsageRow.batch,
    UsageRow.requests,
    UsageRow.conversation_id,
    UsageRow.cache_write_1h_tokens,
)


class UsageRepository(OrgRepository[UsageRow]):
    model = UsageRow

    @property
    def _dialect(self) -> str:
        return self.session.bind.dialect.name if self.session.bind else "sqlite"

    async def insert(self, records: Sequence[UsageRecord], *, expect_new: bool = True) -> int:
        """Store ``records`` for this org; returns how many were new (the rest duplicates).
        ``expect_new=False`` (the previous batch had duplicates) skips the attempt to ``COPY``
        keyed rows straight in."""
        rows = [record_row(self.org_id, r) for r in records]
        if self._dialect != "postgresql":
            return await self._insert_generic(rows)
        keyed = [row for row in rows if row[_REQUEST_ID] is not None]
        plain = [row for row in rows if row[_REQUEST_ID] is None]
        return await self._insert_postgres(plain, keyed, expect_new)

    async def insert_frame(self, frame: pl.DataFrame, *, expect_new: bool = True) -> int:
        """:meth:`insert` for a frame of records (``analysis.frame.SCHEMA`` columns)."""
        rows = stored_columns(self.org_id, frame)
        if self._dialect != "postgresql":
            return await self._insert_generic(list(rows.iter_rows()))
        has_id = rows["request_id"].is_not_null()
        return await self._insert_postgres(rows.filter(~has_id), rows.filter(has_id), expect_new)

    async def _insert_postgres(self, plain: Rows, keyed: Rows, expect_new: bool) -> int:
        if not len(plain) and not len(keyed):
            return 0
        driver = await self._driver()
        inserted = 0
        if len(plain):  # nothing to deduplicate
            inserted += await _copy(driver, "usage_records", plain)
        if not len(keyed):
            return inserted
        # New ids (the common case) go straight in; a duplicate, stored or in the batch, stops
        # the COPY at the unique index, and the batch is deduplicated through the temp table.
        if expect_new:
            await driver.execute("SAVEPOINT usage_copy")
            try:
                inserted += await _copy(driver, "usage_records", keyed)
            except asyncpg.UniqueViolationError:
                await driver.execute("ROLLBACK TO SAVEPOINT usage_copy")
            else:
                await driver.execute("RELEASE SAVEPOINT usage_copy")
                return inserted
        await driver.execute(_CREATE_TEMP)
        await _copy(driver, _TEMP_TABLE, keyed)
        status: str = await driver.execute(_MOVE)
        await driver.execute(f"TRUNCATE {_TEMP_TABLE}")
        return inserted + int(status.rsplit(" ", 1)[-1])

    async def _insert_generic(self, rows: list[tuple[Any, ...]]) -> int:
        stmt = (
            sqlite_insert(UsageRow)
            .on_conflict_do_nothing(
                index_elements=["org_id", "request_id"],
                index_where=text("request_id IS NOT NULL"),
            )
            .returning(UsageRow.id)
        )
        inserted = 0
        # SQLite limits bound parameters per statement: chunks of 500 rows x 20 columns.
        for i in range(0, len(rows), 500):
            params = [dict(zip(COLUMNS, row, strict=True)) for row in rows[i : i + 500]]
            result = await self.session.execute(stmt, params)
            inserted += len(result.all())
        return inserted

    async def bump_version(self) -> None:
        """Mark the org's data as changed (same transaction as the insert it follows)."""
        insert = pg_insert if self._dialect == "postgresql" else sqlite_insert
        stmt = insert(UsageVersion).values(org_id=self.org_id, version=1, updated_at=utcnow())
        stmt = stmt.on_conflict_do_update(
            index_elements=["org_id"],
            set_={"version": UsageVersion.version + 1, "updated_at": stmt.excluded.updated_at},
        )
        await self.session.execute(stmt)

    async def version(self) -> int:
        result = await self.session.execute(
            select(UsageVersion.version).where(UsageVersion.org_id == self.org_id)
        )
        return int(result.scalar_one_or_none() or 0)

    async def count(self) -> int:
        result = await self.session.execute(self.select(func.count()).select_from(UsageRow))
        return int(result.scalar_one())

    async def load(
        self,
        start: datetime | None = None,
        end: datetime | None = None,
        limit: int | None = None,
    ) -> list[UsageRecord]:
        """Records with ``start <= timestamp < end``, oldest first; with ``limit``, the most
        recent ``limit`` of them."""
        stmt = self.select(*_RECORD_COLUMNS)
        if start is not None:
            stmt = stmt.where(UsageRow.timestamp >= start)
        if end is not None:
            stmt = stmt.where(UsageRow.timestamp < end)
        if limit is not None:
            stmt = stmt.order_by(UsageRow.timestamp.desc(), UsageRow.id.desc()).limit(limit)
        else:
            stmt = stmt.order_by(UsageRow.timestamp, UsageRow.id)
        result = await self.session.execute(stmt)
        records = [_to_record(tuple(row)) for row in result.all()]
        if limit is not None:
            records.reverse()
        return records

    @property
    def exports_csv(self) -> bool:
        """Whether :meth:`export_csv` is available (PostgreSQL)."""
        return self._dialect == "postgresql"

    async def export_csv(self, start: datetime | None, end: datetime | None, path: str) -> None:
        """Write the org's records in ``[start, end)`` to ``path`` as CSV without a header,
        columns in record-field order, ``timestamp`` as Unix microseconds and ``batch`` as
        0/1. PostgreSQL's ``COPY`` writes it straight to disk: no Python object per record,
        and the analysis frame is then read with Polars' CSV reader."""
        driver = await self._driver()
        await driver.copy_from_query(_PG_EXPORT, self.org_id, start, end, output=path, format="csv")

    async def column_chunks(
        self, start: datetime | None = None, end: datetime | None = None, chunk: int = 50_000
    ) -> AsyncIterator[dict[str, list[Any]]]:
        """The org's records in ``[start, end)``, ``chunk`` rows at a time, column by column and
        named as the record fields (the portable path; PostgreSQL uses :meth:`export_csv`)."""
        stmt = self.select(*_RECORD_COLUMNS)
        if start is not None:
            stmt = stmt.where(UsageRow.timestamp >= start)
        if end is not None:
            stmt = stmt.where(UsageRow.timestamp < end)
        stmt = stmt.order_by(UsageRow.timestamp).execution_options(yield_per=chunk)
        result = await self.session.stream(stmt)
        async for rows in result.partitions(chunk):
            transposed = zip(*rows, strict=True)
            yield {name: list(values) for name, values in zip(FIELDS, transposed, strict=True)}

    async def _driver(self) -> Any:
        """The asyncpg connection of this unit of work, its transaction already open (a
        statement through SQLAlchemy begins it, so driver-level work belongs to the unit)."""
        await self.session.execute(text("SELECT 1"))
        conn = await self.session.connection()
        raw = await conn.get_raw_connection()
        return raw.driver_connection


def _to_record(row: tuple[Any, ...]) -> UsageRecord:
    return UsageRecord(
        timestamp=row[0],
        provider=row[1],
        model=row[2],
        input_tokens=int(row[3]),
        output_tokens=int(row[4]),
        cached_input_tokens=int(row[5]),
        cache_write_tokens=int(row[6]),
        latency_ms=row[7],
        status=row[8],
        cost_usd=row[9],
        feature=row[10],
        user=row[11],
        prompt_hash=row[12],
        request_id=row[13],
        retry_of=row[14],
        batch=bool(row[15]),
        requests=int(row[16]),
        conversation_id=row[17],
        cache_write_1h_tokens=int(row[18]),
    )
