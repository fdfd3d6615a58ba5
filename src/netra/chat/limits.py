"""Limits of the WebSocket layer: frames per connection, connections per user across replicas.

- :class:`TokenBucket`: a connection's frame rate (in memory: the connection lives on one
  replica). An empty bucket answers ``rate_limited`` with ``retry_after_s``.
- :class:`ConnectionSlots`: the user's open connections, counted in the shared cache so the
  limit holds across replicas. Each connection holds one of ``limit`` slot keys with a TTL it
  refreshes while alive, so a replica that dies frees its slots when they expire.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable

from netra.core.cache import Cache


class TokenBucket:
    # One per open socket: slots, not a per-instance dict.
    __slots__ = (
        "capacity",
        "clock",
        "rate",
        "tokens",
        "updated",
    )

    def __init__(
        self, rate_per_s: float, burst: int, clock: Callable[[], float] = time.monotonic
    ) -> None:
        self.rate = max(rate_per_s, 1e-6)
        self.capacity = max(1, burst)
        self.tokens = float(self.capacity)
        self.clock = clock
        self.updated = clock()

    def take(self) -> float:
        """0 when a frame may pass, else the seconds until the next one may."""
        now = self.clock()
        self.tokens = min(self.capacity, self.tokens + (now - self.updated) * self.rate)
        self.updated = now
        if self.tokens >= 1:
            self.tokens -= 1
            return 0.0
        return (1 - self.tokens) / self.rate

    @staticmethod
    def retry_after_s(wait: float) -> int:
        return max(1, math.ceil(wait))


class ConnectionSlots:
    TTL_S = 60.0  # refreshed every TTL_S / 3 by the connection's watchdog

    def __init__(self, cache: Cache) -> None:
        self.cache = cache

    @staticmethod
    def _key(user_id: str, index: int | str) -> str:
        return f"ws:slot:{user_id}:{index}"

    async def acquire(self, user_id: str, connection_id: str, limit: int) -> str | None:
        """The slot key taken for this connection (the first free one, one round trip), or
        None when all ``limit`` are held."""
        return await self.cache.set_first_absent(
            self._key(user_id, ""), limit, connection_id.encode(), self.TTL_S
        )

    async def refresh(self, key: str, connection_id: str) -> None:
        held = await self.cache.get(key)
        if held is None or held == connection_id.encode():
            await self.cache.set(key, connection_id.encode(), self.TTL_S)

    async def release(self, key: str, connection_id: str) -> None:
        if await self.cache.get(key) == connection_id.encode():
            await self.cache.delete(key)
