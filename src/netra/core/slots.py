"""Concurrency slots shared by every replica: at most ``limit`` holders of a named resource.

Each holder takes one of ``limit`` slot keys in the runtime cache (Redis when scaled out) with a
TTL; a long holder refreshes it, and a replica that dies frees its slots when they expire.
When the cache cannot be reached, a process-local count stands in (never unlimited), unless the
owner would rather refuse (``local_fallback=False``: acquiring raises).
"""

from __future__ import annotations

import asyncio
import contextlib
from collections import Counter
from collections.abc import AsyncIterator, Sequence
from contextlib import asynccontextmanager

import structlog

from netra.core.cache import Cache

log = structlog.get_logger("netra.core.slots")


class Slots:
    def __init__(
        self, cache: Cache, namespace: str, ttl_s: float = 60.0, *, local_fallback: bool = True
    ) -> None:
        self.cache = cache
        self.namespace = namespace
        self.ttl_s = ttl_s
        self.local_fallback = local_fallback
        self._local: Counter[str] = Counter()

    def _key(self, owner: str, index: int | str) -> str:
        return f"slot:{self.namespace}:{owner}:{index}"

    async def acquire(self, owner: str, limit: int, holder: str) -> str | None:
        """The slot key taken, ``"local:<owner>"`` when the cache is down and the local count
        allowed it, or None when all ``limit`` are held."""
        try:
            return await self.cache.set_first_absent(
                self._key(owner, ""), limit, holder.encode(), self.ttl_s
            )
        except Exception as exc:
            if not self.local_fallback:
                raise
            log.warning("slot registry unavailable: local count", error=str(exc))
            if self._local[owner] >= limit:
                return None
            self._local[owner] += 1
            return f"local:{owner}"

    async def refresh(self, key: str, holder: str) -> None:
        await self.renew([(key, holder)])

    async def renew(self, held: Sequence[tuple[str, str]]) -> None:
        """Refresh the TTL of every ``(key, holder)`` still held or lost (never another
        holder's), in one round trip; the cache being away is waited out by the TTL."""
        leases = [(key, holder.encode()) for key, holder in held if not key.startswith("local:")]
        if leases:
            with contextlib.suppress(Exception):
                await self.cache.renew(leases, self.ttl_s)

    async def release(self, key: str, holder: str) -> None:
        if key.startswith("local:"):
            owner = key.removeprefix("local:")
            self._local[owner] -= 1
            if self._local[owner] <= 0:
                del self._local[owner]
            return
        with contextlib.suppress(Exception):
            await self.cache.delete_if(key, holder.encode())

    @asynccontextmanager
    async def holding(self, keys: list[str], holder: str) -> AsyncIterator[None]:
        """Keep ``keys`` alive (refreshed at a third of their TTL) while the block runs, then
        release them."""

        async def keep() -> None:
            while True:
                await asyncio.sleep(self.ttl_s / 3)
                for key in keys:
                    await self.refresh(key, holder)

        task = asyncio.create_task(keep(), name=f"slots-{self.namespace}")
        try:
            yield
        finally:
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task
            for key in keys:
                await self.release(key, holder)
