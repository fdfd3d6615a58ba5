"""A started runtime on a SQLite file and in-memory cache, bus and queue, every table created.

``tests/unit/conftest.py`` turns it into the shared ``runtime`` fixture; tests whose settings
differ per test call it directly.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from netra.billing.rate_limits import install_request_limiter
from netra.core.runtime import Runtime, build_runtime
from netra.core.settings import Settings


@asynccontextmanager
async def started_runtime(settings: Settings) -> AsyncIterator[Runtime]:
    from netra.models import Base

    runtime = build_runtime(settings)
    install_request_limiter(runtime)
    async with runtime.db.engine.begin() as conn:
        await conn.run_sync(Base.metadata.create_all)
    await runtime.start()
    try:
        yield runtime
    finally:
        await runtime.stop()
