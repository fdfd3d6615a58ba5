"""Limits of the WebSocket layer: a connection's frame rate.

:class:`TokenBucket` is in memory (the connection lives on one replica); an empty bucket answers
``rate_limited`` with ``retry_after_s``. The user's connections across replicas are counted by
the hub's :class:`~netra.core.slots.Slots` (namespace ``ws``).
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable


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
