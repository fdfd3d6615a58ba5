"""A per-key count of events in fixed time windows, shared by every replica through the cache;
when the cache cannot be reached, a process-local count stands in (never unlimited).

For coarse per-endpoint quotas (analyses per organisation and minute); the request rate of
every call is the tier rate limiter's.
"""

from __future__ import annotations

import math
import time
from collections import OrderedDict
from collections.abc import Callable

import structlog

from netra.core.cache import Cache
from netra.core.errors import RateLimited

log = structlog.get_logger("netra.core.window_limit")

_LOCAL_KEYS = 10_000


class WindowLimit:
    def __init__(
        self,
        cache: Cache,
        name: str,
        window_s: int,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.cache = cache
        self.name = name
        self.window_s = window_s
        self.clock = clock
        self._local: OrderedDict[str, int] = OrderedDict()

    def _local_count(self, key: str) -> int:
        count = self._local.pop(key, 0) + 1
        self._local[key] = count
        while len(self._local) > _LOCAL_KEYS:
            self._local.popitem(last=False)
        return count

    async def take(self, owner: str) -> tuple[int, int]:
        """Count one event of ``owner``: (events before it in this window, seconds until the
        next window), for the tier check to decide."""
        now = self.clock()
        window = int(now // self.window_s)
        key = f"window:{self.name}:{owner}:{window}"
        try:
            count = await self.cache.incr(key, ttl_s=self.window_s + 1)
        except Exception as exc:
            log.warning("window counter unavailable: local count", error=str(exc))
            count = self._local_count(key)
        return count - 1, max(1, math.ceil((window + 1) * self.window_s - now))

    async def hit(self, owner: str, limit: int, what: str) -> None:
        """Count one event of ``owner``; ``RateLimited`` (with the seconds to the next window)
        when it is over ``limit`` in this window."""
        used, wait = await self.take(owner)
        if used >= limit:
            raise RateLimited(
                f"at most {limit} {what} per {self.window_s} s",
                retry_after_s=wait,
                details={"limit": limit, "window_s": self.window_s},
            )
