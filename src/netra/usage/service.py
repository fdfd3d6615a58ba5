"""Reading an organisation's stored usage: its data version and its records as the engine's
frame (what the reports domain analyses); and what runs once new usage was stored."""

from __future__ import annotations

import os
import tempfile
from collections.abc import Awaitable, Callable
from datetime import datetime
from typing import Any

import anyio.to_thread
import polars as pl
import structlog
from sqlalchemy.ext.asyncio import AsyncSession

from netra.analysis.frame import SCHEMA, conform
from netra.core.db import Database
from netra.core.runtime import Runtime
from netra.core.services import Service
from netra.usage.repository import UsageRepository

log = structlog.get_logger("netra.usage")

# What runs after an ingest stored new usage of an organisation (billing's budget check). The
# billing component provides it, so usage never imports billing: billing reads usage, not the
# other way round.
UsageStored = Callable[[str], Awaitable[None]]
USAGE_STORED: Service[UsageStored] = Service("usage_stored")


async def usage_stored(runtime: Runtime, org_id: str, accepted: int) -> None:
    """New usage may cross a budget: tell whoever watches (checked in the background)."""
    if not accepted:
        return
    hook = runtime.services.get(USAGE_STORED)
    if hook is None:
        log.warning("nothing watches new usage in this process; budgets not checked", org_id=org_id)
        return
    await hook(org_id)


async def data_version(runtime: Runtime, org_id: str) -> int:
    async def read(session: Any) -> int:
        return await UsageRepository(session, org_id).version()

    return await runtime.db.run(read)


# The CSV export: timestamps as Unix microseconds, batch as 0/1 (see export_csv).
_EXPORT_SCHEMA = {**SCHEMA, "timestamp": pl.Int64(), "batch": pl.Int8()}


def _frame_from_export(path: str) -> pl.DataFrame:
    if os.path.getsize(path) == 0:
        return pl.DataFrame(schema=SCHEMA)
    frame = pl.read_csv(
        path,
        has_header=False,
        new_columns=list(SCHEMA),
        schema=_EXPORT_SCHEMA,
        quote_char='"',
    )
    return frame.with_columns(
        pl.col("timestamp").cast(SCHEMA["timestamp"]), pl.col("batch").cast(pl.Boolean())
    )


def _frame_part(columns: dict[str, list[Any]]) -> pl.DataFrame:
    return pl.DataFrame(columns, schema=SCHEMA, strict=False)


async def load_frame(
    db: Database, org_id: str, start: datetime | None, end: datetime | None
) -> pl.DataFrame:
    """The org's records in ``[start, end)`` as the engine's frame. PostgreSQL exports them to
    a temporary CSV file read by Polars; elsewhere they are read in chunks of rows."""
    if db.engine.dialect.name == "postgresql":
        fd, path = tempfile.mkstemp(prefix="netra-frame-", suffix=".csv")
        os.close(fd)
        try:

            async def export(session: AsyncSession) -> None:
                await UsageRepository(session, org_id).export_csv(start, end, path)

            await db.run(export)
            return conform(await anyio.to_thread.run_sync(_frame_from_export, path))
        finally:
            os.unlink(path)

    async def read(session: AsyncSession) -> list[pl.DataFrame]:
        parts: list[pl.DataFrame] = []
        async for columns in UsageRepository(session, org_id).column_chunks(start, end):
            parts.append(await anyio.to_thread.run_sync(_frame_part, columns))
        return parts

    parts = await db.run(read)
    if not parts:
        return conform(pl.DataFrame(schema=SCHEMA))
    return conform(pl.concat(parts))
