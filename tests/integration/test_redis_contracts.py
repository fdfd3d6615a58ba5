"""The Redis implementations pass the same infrastructure contracts, on a real Redis."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest

from netra.core.bus import RedisBus
from netra.core.cache import RedisCache
from netra.core.queue import RedisQueue
from support.contracts import BusContract, CacheContract, QueueContract


class TestRedisCache(CacheContract):
    @pytest.fixture
    async def cache(self, redis_url: str, redis_prefix: str) -> AsyncIterator[RedisCache]:
        cache = RedisCache(redis_url, redis_prefix)
        yield cache
        await cache.close()


class TestRedisBus(BusContract):
    @pytest.fixture
    async def bus(self, redis_url: str, redis_prefix: str) -> AsyncIterator[RedisBus]:
        bus = RedisBus(redis_url, redis_prefix)
        yield bus
        await bus.close()


class TestRedisQueue(QueueContract):
    @pytest.fixture
    async def queue(self, redis_url: str, redis_prefix: str) -> AsyncIterator[RedisQueue]:
        queue = RedisQueue(redis_url, redis_prefix)
        yield queue
        await queue.close()
