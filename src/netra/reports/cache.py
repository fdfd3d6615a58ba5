"""The analysis cache: reports keyed by organisation, data version and period.

Runs on the runtime's cache (Redis when scaled out, so every replica shares it). The data
version is bumped in the same transaction as every ingest that stored a record, so a cached
report can never outlive the data it was computed from; the TTL only bounds memory. The cache
is an optimisation: when it fails (Redis down) the report is computed and served anyway.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import Awaitable, Callable
from typing import Any

import structlog

from netra.core.cache import Cache
from netra.core.observability import Metrics
from netra.core.services import Service

log = structlog.get_logger("netra.reports.cache")

ANALYSIS_CACHE: Service[AnalysisCache] = Service("usage_analysis_cache")


def cache_key(kind: str, org_id: str, version: int, *parts: object) -> str:
    tail = ":".join("-" if p is None else str(p) for p in parts)
    return f"analysis:{kind}:{org_id}:v{version}:{tail}"


class AnalysisCache:
    def __init__(self, cache: Cache, metrics: Metrics | None, ttl_s: float) -> None:
        self.cache = cache
        self.metrics = metrics
        self.ttl_s = ttl_s
        # Lookups of a key already being computed in this process wait for that computation
        # instead of starting another one (a burst of identical requests costs one analysis).
        self._inflight: dict[str, asyncio.Future[tuple[Any, str]]] = {}

    def _count(self, result: str) -> None:
        if self.metrics is not None:
            self.metrics.cache.labels(result).inc()

    async def get_or_compute(
        self, key: str, compute: Callable[[], Awaitable[Any]]
    ) -> tuple[Any, str]:
        """(value, "hit" | "miss" | "bypass"): "bypass" when the cache could not be used; a
        caller that joined a computation already running here gets "hit"."""
        running = self._inflight.get(key)
        if running is not None:
            try:
                value, _ = await asyncio.shield(running)
            except asyncio.CancelledError:
                if not running.cancelled():
                    raise  # this caller was cancelled
                # the computing caller went away: compute for ourselves below
            else:
                self._count("hit")
                return value, "hit"
        future: asyncio.Future[tuple[Any, str]] = asyncio.get_running_loop().create_future()
        self._inflight[key] = future
        try:
            outcome = await self._lookup(key, compute)
        except asyncio.CancelledError:
            future.cancel()
            raise
        except BaseException as exc:
            future.set_exception(exc)
            future.exception()  # marked retrieved: joiners re-raise it, nobody else must
            raise
        else:
            future.set_result(outcome)
            return outcome
        finally:
            if self._inflight.get(key) is future:
                del self._inflight[key]

    async def _lookup(self, key: str, compute: Callable[[], Awaitable[Any]]) -> tuple[Any, str]:
        usable = True
        try:
            raw = await self.cache.get(key)
        except Exception as exc:  # the cache is optional: answer without it
            log.warning("analysis cache unavailable", key=key, error=str(exc))
            self._count("error")
            raw, usable = None, False
        if raw is not None:
            try:
                value = json.loads(raw)
            except ValueError:
                value = None
            else:
                self._count("hit")
                return value, "hit"
        value = await compute()
        if not usable:
            return value, "bypass"
        self._count("miss")
        try:
            await self.cache.set(key, json.dumps(value).encode(), ttl_s=self.ttl_s)
        except Exception as exc:
            log.warning("analysis cache write failed", key=key, error=str(exc))
            self._count("error")
            return value, "bypass"
        return value, "miss"
