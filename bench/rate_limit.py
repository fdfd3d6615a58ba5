"""What the tier rate limit costs a request: one GCRA decision in Redis (the shared path, one
script call), in-process (the embedded mode and the fallback), against a baseline Redis PING
measured in the same run (the least one round trip costs).

    .venv/bin/python bench/rate_limit.py [--calls 5000] [--concurrency 32]

Needs a Redis at NETRA_TEST_REDIS_URL (default redis://127.0.0.1:6379/0); keys live under a
fresh prefix and are removed afterwards.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import time
import uuid
from collections.abc import Awaitable, Callable

from netra.core.cache import RedisCache
from netra.core.ratelimit import LocalLimiter, RedisLimiter


async def _rate(calls: int, concurrency: int, one: Callable[[int], Awaitable[object]]) -> float:
    queue = iter(range(calls))

    async def worker() -> None:
        for n in queue:
            await one(n)

    start = time.perf_counter()
    await asyncio.gather(*(worker() for _ in range(concurrency)))
    return calls / (time.perf_counter() - start)


async def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--calls", type=int, default=5000)
    parser.add_argument("--concurrency", type=int, default=32)
    args = parser.parse_args()
    url = os.environ.get("NETRA_TEST_REDIS_URL", "redis://127.0.0.1:6379/0")
    prefix = f"bench-{uuid.uuid4().hex[:8]}:"
    cache = RedisCache(url, prefix)
    shared = RedisLimiter(cache)
    local = LocalLimiter()
    orgs = 100  # decisions spread over 100 organisations, each far from its quota
    try:
        ping = await _rate(args.calls, args.concurrency, lambda n: cache.client.ping())
        redis_rate = await _rate(
            args.calls, args.concurrency, lambda n: shared.hit(f"org:{n % orgs}", 10**9, 60)
        )
        local_rate = await _rate(
            args.calls * 20, 1, lambda n: local.hit(f"org:{n % orgs}", 10**9, 60)
        )
    finally:
        keys = [k async for k in cache.client.scan_iter(f"{prefix}*")]
        if keys:
            await cache.client.delete(*keys)
        await cache.close()
    print(f"{'path':<36}{'decisions/s':>14}{'vs PING':>10}")
    for name, rate in (
        ("baseline: Redis PING", ping),
        ("GCRA in Redis (one script call)", redis_rate),
        ("GCRA in process (fallback)", local_rate),
    ):
        print(f"{name:<36}{rate:>14,.0f}{rate / ping:>9.2f}x")
    print(f"per request in Redis: {1e6 / redis_rate:,.0f} us at concurrency {args.concurrency}")


if __name__ == "__main__":
    asyncio.run(main())
