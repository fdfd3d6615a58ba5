"""The analysis cache: hit after miss, keys change with the data version, failures bypass."""

from __future__ import annotations

import asyncio

from netra.core.cache import MemoryCache
from netra.core.observability import Metrics
from netra.reports.cache import AnalysisCache, cache_key


class BrokenCache(MemoryCache):
    async def get(self, key: str) -> bytes | None:
        raise ConnectionError("redis is down")

    async def set(self, key: str, value: bytes, ttl_s: float | None = None) -> None:
        raise ConnectionError("redis is down")


def counted(metrics: Metrics, result: str) -> float:
    return metrics.cache.labels(result)._value.get()  # type: ignore[attr-defined, no-any-return]


async def test_second_lookup_is_a_hit_and_computes_nothing() -> None:
    metrics = Metrics()
    cache = AnalysisCache(MemoryCache(), metrics, ttl_s=60)
    calls = 0

    async def compute() -> dict[str, int]:
        nonlocal calls
        calls += 1
        return {"records": 3}

    key = cache_key("report", "org1", 1, None, None)
    assert await cache.get_or_compute(key, compute) == ({"records": 3}, "miss")
    assert await cache.get_or_compute(key, compute) == ({"records": 3}, "hit")
    assert calls == 1
    assert counted(metrics, "hit") == 1 and counted(metrics, "miss") == 1


def test_keys_differ_by_org_version_and_period() -> None:
    base = cache_key("report", "org1", 1, "2026-01-01", None)
    assert base != cache_key("report", "org2", 1, "2026-01-01", None)
    assert base != cache_key("report", "org1", 2, "2026-01-01", None)
    assert base != cache_key("report", "org1", 1, None, None)
    assert base != cache_key("summary", "org1", 1, "2026-01-01", None)


async def test_a_failing_cache_is_bypassed_and_counted() -> None:
    metrics = Metrics()
    cache = AnalysisCache(BrokenCache(), metrics, ttl_s=60)

    async def compute() -> list[int]:
        return [1, 2]

    assert await cache.get_or_compute("k", compute) == ([1, 2], "bypass")
    assert counted(metrics, "error") == 1


async def test_expired_entries_are_recomputed() -> None:
    cache = AnalysisCache(MemoryCache(), None, ttl_s=0.05)
    values = iter([1, 2])

    async def compute() -> int:
        return next(values)

    assert await cache.get_or_compute("k", compute) == (1, "miss")
    await asyncio.sleep(0.1)
    assert await cache.get_or_compute("k", compute) == (2, "miss")


async def test_concurrent_lookups_of_one_key_compute_once() -> None:
    cache = AnalysisCache(MemoryCache(), Metrics(), ttl_s=60)
    calls = 0
    gate = asyncio.Event()

    async def compute() -> dict[str, int]:
        nonlocal calls
        calls += 1
        await gate.wait()
        return {"n": calls}

    lookups = [asyncio.ensure_future(cache.get_or_compute("same", compute)) for _ in range(5)]
    await asyncio.sleep(0.05)
    gate.set()
    results = await asyncio.gather(*lookups)
    assert calls == 1
    assert [value for value, _ in results] == [{"n": 1}] * 5
    assert sorted(how for _, how in results) == ["hit"] * 4 + ["miss"]


async def test_a_failed_computation_fails_its_joiners_and_is_not_remembered() -> None:
    cache = AnalysisCache(MemoryCache(), None, ttl_s=60)
    gate = asyncio.Event()

    async def boom() -> int:
        await gate.wait()
        raise RuntimeError("engine failed")

    first = asyncio.ensure_future(cache.get_or_compute("k", boom))
    joiner = asyncio.ensure_future(cache.get_or_compute("k", boom))
    await asyncio.sleep(0.02)
    gate.set()
    for task in (first, joiner):
        try:
            await task
        except RuntimeError:
            pass
        else:
            raise AssertionError("the failure must reach every caller")

    async def fine() -> int:
        return 7

    assert await cache.get_or_compute("k", fine) == (7, "miss")


async def test_joiners_recompute_when_the_computing_caller_is_cancelled() -> None:
    cache = AnalysisCache(MemoryCache(), None, ttl_s=60)
    started = asyncio.Event()

    async def slow() -> int:
        started.set()
        await asyncio.sleep(10)
        return 1

    async def quick() -> int:
        return 2

    first = asyncio.ensure_future(cache.get_or_compute("k", slow))
    await started.wait()
    joiner = asyncio.ensure_future(cache.get_or_compute("k", quick))
    await asyncio.sleep(0.02)
    first.cancel()
    assert await asyncio.wait_for(joiner, 2) == (2, "miss")
