"""The memory implementations pass the infrastructure contracts."""

from __future__ import annotations

import pytest

from netra.core.bus import MemoryBus
from netra.core.cache import MemoryCache
from netra.core.queue import MemoryQueue
from support.contracts import BusContract, CacheContract, QueueContract


class TestMemoryCache(CacheContract):
    @pytest.fixture
    def cache(self) -> MemoryCache:
        return MemoryCache()


class TestMemoryBus(BusContract):
    @pytest.fixture
    def bus(self) -> MemoryBus:
        return MemoryBus()


class TestMemoryQueue(QueueContract):
    @pytest.fixture
    def queue(self) -> MemoryQueue:
        return MemoryQueue()
