"""Finding 6: the in-process cache is bounded; the analyses window counts exactly and falls
back to a local count when the cache is down (never unlimited)."""

from __future__ import annotations

import pytest

from netra.core.cache import MemoryCache
from netra.core.errors import RateLimited
from netra.core.window_limit import WindowLimit


async def test_memory_cache_drops_expired_then_oldest_past_its_bound() -> None:
    cache = MemoryCache(max_entries=100)
    for i in range(1000):
        await cache.set(f"k{i}", b"v", ttl_s=3600)
    assert len(cache._data) == 100
    assert await cache.get("k999") == b"v" and await cache.get("k0") is None


class DownCache(MemoryCache):
    async def incr(self, key: str, ttl_s: float | None = None, by: int = 1) -> int:
        raise ConnectionError("redis is down")


@pytest.mark.parametrize("cache", [MemoryCache(), DownCache()], ids=["shared", "local"])
async def test_window_limit_is_exact_at_the_boundary(cache: MemoryCache) -> None:
    now = [1_000_020.0]
    limit = WindowLimit(cache, "analyses", 60, clock=lambda: now[0])
    for _ in range(3):
        await limit.hit("org", 3, "analyses")
    with pytest.raises(RateLimited) as refused:
        await limit.hit("org", 3, "analyses")
    assert refused.value.retry_after_s == 60 - (1_000_020 % 60)
    await limit.hit("other-org", 3, "analyses")
    now[0] += 60  # the next window
    await limit.hit("org", 3, "analyses")
