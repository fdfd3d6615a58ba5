"""The periodic purge behind auth housekeeping and data retention: rounds keep coming after a
failed one, and stop ends them."""

from __future__ import annotations

import asyncio

import pytest

from netra.core.periodic import PeriodicPurge

pytestmark = pytest.mark.unit


async def test_a_failed_round_is_followed_by_the_next_and_stop_ends_them() -> None:
    calls: list[int] = []
    third = asyncio.Event()

    async def round_() -> dict[str, int]:
        calls.append(len(calls))
        if len(calls) == 1:
            raise RuntimeError("database away")
        if len(calls) == 3:
            third.set()
        return {"rows": len(calls)}

    job = PeriodicPurge("test-purge", 0.001, round_)
    job.start()
    await asyncio.wait_for(third.wait(), 30)
    await job.stop()
    stopped_at = len(calls)
    assert stopped_at >= 3
    assert job._task is not None and job._task.done()
    assert len(calls) == stopped_at  # nothing runs after stop
