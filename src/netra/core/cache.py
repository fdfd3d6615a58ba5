"""Cache: a small key/value interface with ``memory://`` and ``redis://`` implementations.

Also holds counters with a time window (rate limits, throttles) and plain flags with a TTL
(revocation denylist). Keys are namespaced by a prefix so test sessions and deployments sharing
a Redis do not see each other.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Sequence
from typing import Protocol

import redis.asyncio as aioredis

from netra.core.redis_driver import CLIENT_OPTIONS


class Cache(Protocol):
    url: str

    async def get(self, key: str) -> bytes | None: ...
    async def set(self, key: str, value: bytes, ttl_s: float | None = None) -> None: ...
    async def set_if_absent(self, key: str, value: bytes, ttl_s: float | None = None) -> bool: ...
    async def set_first_absent(
        self, key_prefix: str, count: int, value: bytes, ttl_s: float
    ) -> str | None:
        """Set the first absent of the keys ``key_prefix + "0"`` .. ``key_prefix + str(count -
        1)``, in one round trip (the keys are not sent); the key set, or None."""
        ...

    async def delete(self, *keys: str) -> None: ...
    async def delete_if(self, key: str, value: bytes) -> bool:
        """Delete ``key`` if it holds ``value`` (one atomic step); whether it did."""
        ...

    async def renew(self, leases: Sequence[tuple[str, bytes]], ttl_s: float) -> int:
        """For each ``(key, value)``: set it again with a fresh TTL where it is absent or still
        holds ``value`` (never over another holder's), all in one round trip; how many."""
        ...

    async def incr(self, key: str, ttl_s: float | None = None, by: int = 1) -> int: ...
    async def ttl(self, key: str) -> float | None: ...
    async def ping(self) -> None: ...
    async def close(self) -> None: ...


class MemoryCache:
    """In-process cache for the embedded mode and unit tests.

    Bounded: past ``max_entries`` keys, expired ones are dropped, then the oldest written (a
    tenant varying analysis periods must not grow the process without end).
    """

    def __init__(
        self, url: str = "memory://", prefix: str = "", max_entries: int = 100_000
    ) -> None:
        self.url = url
        self.prefix = prefix
        self.max_entries = max_entries
        self._data: dict[str, tuple[bytes, float | None]] = {}
        self._lock = asyncio.Lock()

    def _store(self, key: str, item: tuple[bytes, float | None]) -> None:
        full = self.prefix + key
        self._data.pop(full, None)  # re-inserted last: the dict's order is the write order
        self._data[full] = item
        if len(self._data) > self.max_entries:
            now = time.monotonic()
            for name in [k for k, (_, exp) in self._data.items() if exp is not None and exp <= now]:
                del self._data[name]
            while len(self._data) > self.max_entries:
                del self._data[next(iter(self._data))]

    def _alive(self, key: str) -> tuple[bytes, float | None] | None:
        item = self._data.get(self.prefix + key)
        if item is None:
            return None
        if item[1] is not None and item[1] <= time.monotonic():
            del self._data[self.prefix + key]
            return None
        return item

    @staticmethod
    def _expiry(ttl_s: float | None) -> float | None:
        return None if ttl_s is None else time.monotonic() + ttl_s

    async def get(self, key: str) -> bytes | None:
        item = self._alive(key)
        return None if item is None else item[0]

    async def set(self, key: str, value: bytes, ttl_s: float | None = None) -> None:
        self._store(key, (value, self._expiry(ttl_s)))

    async def set_if_absent(self, key: str, value: bytes, ttl_s: float | None = None) -> bool:
        async with self._lock:
            if self._alive(key) is not None:
                return False
            self._store(key, (value, self._expiry(ttl_s)))
            return True

    async def set_first_absent(
        self, key_prefix: str, count: int, value: bytes, ttl_s: float
    ) -> str | None:
        async with self._lock:
            for key in (f"{key_prefix}{i}" for i in range(count)):
                if self._alive(key) is None:
                    self._store(key, (value, self._expiry(ttl_s)))
                    return key
            return None

    async def delete(self, *keys: str) -> None:
        for key in keys:
            self._data.pop(self.prefix + key, None)

    async def delete_if(self, key: str, value: bytes) -> bool:
        item = self._alive(key)
        if item is None or item[0] != value:
            return False
        del self._data[self.prefix + key]
        return True

    async def renew(self, leases: Sequence[tuple[str, bytes]], ttl_s: float) -> int:
        renewed = 0
        for key, value in leases:
            item = self._alive(key)
            if item is None or item[0] == value:
                self._store(key, (value, self._expiry(ttl_s)))
                renewed += 1
        return renewed

    async def incr(self, key: str, ttl_s: float | None = None, by: int = 1) -> int:
        async with self._lock:
            item = self._alive(key)
            if item is None:
                value, expiry = by, self._expiry(ttl_s)
            else:
                value, expiry = int(item[0]) + by, item[1]
            self._store(key, (str(value).encode(), expiry))
            return value

    async def ttl(self, key: str) -> float | None:
        item = self._alive(key)
        if item is None or item[1] is None:
            return None
        return max(0.0, item[1] - time.monotonic())

    async def ping(self) -> None:
        return None

    async def close(self) -> None:
        self._data.clear()


# ARGV: key prefix, count, value, TTL in ms. Returns 1 + the index of the key set, or 0.
_SET_FIRST_ABSENT = """
for i = 0, tonumber(ARGV[2]) - 1 do
  if redis.call('SET', ARGV[1] .. i, ARGV[3], 'PX', ARGV[4], 'NX') then return i + 1 end
end
return 0
"""

# KEYS: the key. ARGV: the value it must hold.
_DELETE_IF = """
if redis.call('GET', KEYS[1]) == ARGV[1] then return redis.call('DEL', KEYS[1]) end
return 0
"""

# KEYS: the keys. ARGV: the TTL in ms, then each key's value.
_RENEW = """
local renewed = 0
for i, key in ipairs(KEYS) do
  local held = redis.call('GET', key)
  if not held or held == ARGV[i + 1] then
    redis.call('SET', key, ARGV[i + 1], 'PX', ARGV[1])
    renewed = renewed + 1
  end
end
return renewed
"""
RENEW_CHUNK = 500  # keys per script call: one call never blocks Redis for long


class RedisCache:
    def __init__(self, url: str, prefix: str = "netra:") -> None:
        self.url = url
        self.prefix = prefix
        # A blocking pool: a burst of requests waits (up to 5 s) for a connection instead of
        # failing with "too many connections" (a 503 to every request past the pool's size).
        pool = aioredis.BlockingConnectionPool.from_url(
            url, max_connections=64, timeout=5, socket_connect_timeout=2, socket_timeout=5,
            health_check_interval=15, **CLIENT_OPTIONS,
        )  # fmt: skip
        self.client = aioredis.Redis(connection_pool=pool)
        self._pool = pool
        self._set_first_absent = self.client.register_script(_SET_FIRST_ABSENT)
        self._delete_if = self.client.register_script(_DELETE_IF)
        self._renew = self.client.register_script(_RENEW)

    async def get(self, key: str) -> bytes | None:
        value = await self.client.get(self.prefix + key)
        if value is None:
            return None
        return value if isinstance(value, bytes) else str(value).encode()

    async def set(self, key: str, value: bytes, ttl_s: float | None = None) -> None:
        px = None if ttl_s is None else max(1, int(ttl_s * 1000))
        await self.client.set(self.prefix + key, value, px=px)

    async def set_if_absent(self, key: str, value: bytes, ttl_s: float | None = None) -> bool:
        px = None if ttl_s is None else max(1, int(ttl_s * 1000))
        return bool(await self.client.set(self.prefix + key, value, px=px, nx=True))

    async def set_first_absent(
        self, key_prefix: str, count: int, value: bytes, ttl_s: float
    ) -> str | None:
        if count <= 0:
            return None
        px = max(1, int(ttl_s * 1000))
        taken = int(await self._set_first_absent(args=[self.prefix + key_prefix, count, value, px]))
        return f"{key_prefix}{taken - 1}" if taken else None

    async def delete(self, *keys: str) -> None:
        if keys:
            await self.client.delete(*(self.prefix + k for k in keys))

    async def delete_if(self, key: str, value: bytes) -> bool:
        return bool(await self._delete_if(keys=[self.prefix + key], args=[value]))

    async def renew(self, leases: Sequence[tuple[str, bytes]], ttl_s: float) -> int:
        px = max(1, int(ttl_s * 1000))
        renewed = 0
        for start in range(0, len(leases), RENEW_CHUNK):
            chunk = leases[start : start + RENEW_CHUNK]
            keys = [self.prefix + key for key, _ in chunk]
            renewed += int(await self._renew(keys=keys, args=[px, *(v for _, v in chunk)]))
        return renewed

    async def incr(self, key: str, ttl_s: float | None = None, by: int = 1) -> int:
        full = self.prefix + key
        async with self.client.pipeline(transaction=True) as pipe:
            pipe.incrby(full, by)
            if ttl_s is not None:
                pipe.pexpire(full, max(1, int(ttl_s * 1000)), nx=True)
            result = await pipe.execute()
        return int(result[0])

    async def ttl(self, key: str) -> float | None:
        ms = await self.client.pttl(self.prefix + key)
        return None if ms is None or ms < 0 else ms / 1000

    async def ping(self) -> None:
        await self.client.ping()

    async def close(self) -> None:
        await self.client.aclose()
        await self._pool.disconnect()


def build_cache(url: str, prefix: str = "netra:") -> Cache:
    if url.startswith("memory://"):
        return MemoryCache(url, prefix)
    if url.startswith(("redis://", "rediss://", "unix://")):
        return RedisCache(url, prefix)
    raise ValueError(f"unsupported cache URL scheme: {url.split(':', 1)[0]}")
