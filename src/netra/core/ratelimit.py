"""Rate limits: GCRA (the generic cell rate algorithm) in Redis, shared by every replica, with
each replica's own in-process limiter as the fallback when Redis is away (never unlimited).

A limit is ``quota`` requests per ``window_s``. GCRA keeps one number per key, the theoretical
arrival time (TAT): each request moves it ``window_s / quota`` seconds on, and a request is
refused when that would put it more than ``window_s`` ahead of now. So a quiet client may send
the whole quota at once, then one request every ``window_s / quota`` seconds; nothing is ever
counted twice and nothing resets at a window edge.

The arithmetic is :func:`gcra`; the Redis script does the same in one atomic step with the
server's clock (replicas with skewed clocks still agree). Headers follow the IETF httpapi
draft (``RateLimit-Policy: "<name>";q=<quota>;w=<window>``, ``RateLimit: "<name>";r=<left>;t=<s>``).
"""

from __future__ import annotations

import math
import time
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Protocol

import structlog

from netra.core.cache import Cache, RedisCache
from netra.core.errors import RateLimited
from netra.core.resilience import CircuitBreaker, CircuitOpen
from netra.core.services import Service

log = structlog.get_logger("netra.ratelimit")


@dataclass(frozen=True, slots=True)
class Decision:
    allowed: bool
    quota: int
    window_s: int
    remaining: int  # requests that may still be sent at once
    reset_s: float  # until the quota is whole again
    retry_after_s: float  # until the next request is allowed (0 when allowed)
    shared: bool = True  # False: decided by this replica alone (Redis away)

    def headers(self, policy: str) -> dict[str, str]:
        """The IETF draft headers, plus ``Retry-After`` on a refusal."""
        out = {
            "RateLimit-Policy": f'"{policy}";q={self.quota};w={self.window_s}',
            "RateLimit": f'"{policy}";r={self.remaining};t={math.ceil(self.reset_s)}',
        }
        if not self.allowed:
            out["Retry-After"] = str(retry_seconds(self.retry_after_s))
        return out


def retry_seconds(wait_s: float) -> int:
    """Whole seconds a client waits (never 0: a 0 would invite an immediate retry)."""
    return max(1, math.ceil(wait_s - 1e-9))


def gcra(tat: float | None, now: float, quota: int, window_s: float) -> tuple[Decision, float]:
    """One request at ``now`` against the stored ``tat`` (None: never seen); the decision and
    the TAT to store (unchanged when refused)."""
    if quota <= 0:
        return Decision(False, 0, int(window_s), 0, window_s, window_s), tat or now
    interval = window_s / quota
    base = max(tat if tat is not None else now, now)
    new_tat = base + interval
    # Float arithmetic must not refuse the quota's last request (60 x 1.0 s vs 60.0 s).
    ahead = new_tat - now
    if ahead > window_s + 1e-9:
        stored = base
        retry = ahead - window_s
        remaining = 0
        return Decision(False, quota, int(window_s), remaining, stored - now, retry), stored
    remaining = math.floor((window_s - ahead) / interval + 1e-9)
    return Decision(True, quota, int(window_s), remaining, ahead, 0.0), new_tat


class Limiter(Protocol):
    async def hit(self, key: str, quota: int, window_s: int) -> Decision: ...


class LocalLimiter:
    """GCRA in this process: the embedded mode's limiter and every replica's fallback.

    Keys are kept in LRU order up to ``max_keys`` (an idle key's TAT is in the past, so
    forgetting the least recently used one never lets anyone exceed a limit by much).
    """

    def __init__(self, clock: Callable[[], float] = time.monotonic, max_keys: int = 100_000):
        self.clock = clock
        self.max_keys = max_keys
        self._tats: OrderedDict[str, float] = OrderedDict()

    async def hit(self, key: str, quota: int, window_s: int) -> Decision:
        return self.hit_now(key, quota, window_s)

    def hit_now(self, key: str, quota: int, window_s: int) -> Decision:
        now = self.clock()
        decision, tat = gcra(self._tats.get(key), now, quota, window_s)
        self._tats[key] = tat
        self._tats.move_to_end(key)
        while len(self._tats) > self.max_keys:
            self._tats.popitem(last=False)
        return Decision(**{**_fields(decision), "shared": False})


def _fields(decision: Decision) -> dict[str, Any]:
    return {name: getattr(decision, name) for name in Decision.__slots__}


# KEYS[1]: the key; ARGV: quota, window (ms). The TAT is kept in ms of the Redis clock and
# expires once it is in the past (an idle key costs nothing). Returns
# {allowed, remaining, reset_ms, retry_ms}.
GCRA_SCRIPT = """
local quota = tonumber(ARGV[1])
local window = tonumber(ARGV[2])
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
local interval = window / quota
local tat = tonumber(redis.call('GET', KEYS[1]))
if tat == nil or tat < now then tat = now end
local new_tat = tat + interval
local ahead = new_tat - now
if ahead > window + 0.001 then
  return {0, 0, math.ceil(tat - now), math.ceil(ahead - window)}
end
redis.call('SET', KEYS[1], string.format('%.3f', new_tat), 'PX', math.ceil(ahead) + 1000)
return {1, math.floor((window - ahead) / interval + 1e-6), math.ceil(ahead), 0}
"""


class RedisLimiter:
    """GCRA in Redis: one script call per request, shared by every replica."""

    def __init__(self, cache: RedisCache, namespace: str = "rl:") -> None:
        self.cache = cache
        self.namespace = namespace
        self._script = cache.client.register_script(GCRA_SCRIPT)

    async def hit(self, key: str, quota: int, window_s: int) -> Decision:
        if quota <= 0:
            return gcra(None, 0.0, 0, window_s)[0]
        full = f"{self.cache.prefix}{self.namespace}{key}"
        allowed, remaining, reset_ms, retry_ms = await self._script(
            keys=[full], args=[quota, window_s * 1000]
        )
        return Decision(
            allowed=bool(int(allowed)),
            quota=quota,
            window_s=window_s,
            remaining=int(remaining),
            reset_s=int(reset_ms) / 1000,
            retry_after_s=int(retry_ms) / 1000,
        )


class FallbackLimiter:
    """Redis first; when Redis fails, this replica's own limiter (a breaker skips Redis for a
    few seconds after a failure, so a dead Redis costs no connect timeout per request)."""

    def __init__(
        self,
        shared: Limiter,
        local: LocalLimiter,
        *,
        retry_redis_after_s: float = 5.0,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.shared = shared
        self.local = local
        self.breaker = CircuitBreaker(
            "rate-limit-redis",
            failure_threshold=1,
            reset_timeout_s=retry_redis_after_s,
            clock=clock,
        )

    async def hit(self, key: str, quota: int, window_s: int) -> Decision:
        try:
            return await self.breaker.call(lambda: self.shared.hit(key, quota, window_s))
        except CircuitOpen:
            pass
        except Exception as exc:
            log.warning("shared rate limit unavailable: this replica limits alone", error=str(exc))
        return await self.local.hit(key, quota, window_s)


def build_limiter(cache: Cache) -> Limiter:
    """Redis-backed with a local fallback when the cache is Redis, else local only."""
    if isinstance(cache, RedisCache):
        return FallbackLimiter(RedisLimiter(cache), LocalLimiter())
    return LocalLimiter()


RATE_STATE = "rate_limit"  # request.state: (policy, Decision) for the response headers


class RequestLimiter:
    """Every authenticated request and WebSocket frame counts against its organisation's tier
    rate (``quota_for(tier)`` per minute), one shared budget for REST and /ws."""

    WINDOW_S = 60

    def __init__(self, limiter: Limiter, quota_for: Callable[[str], int]) -> None:
        self.limiter = limiter
        self.quota_for = quota_for

    async def check(self, org_id: str, tier: str) -> tuple[str, Decision]:
        """The policy name (the tier) and the decision; the caller refuses when not allowed."""
        return tier, await self.limiter.hit(f"org:{org_id}", self.quota_for(tier), self.WINDOW_S)


def refusal(policy: str, decision: Decision) -> RateLimited:
    wait = retry_seconds(decision.retry_after_s)
    return RateLimited(
        f"rate limit of the {policy} tier reached ({decision.quota} requests per "
        f"{decision.window_s} s): retry in {wait} s",
        retry_after_s=wait,
        details={"tier": policy, "quota": decision.quota, "window_s": decision.window_s},
        headers=decision.headers(policy),
    )


# Provided by every app (billing/rate_limits.py): never unlimited, a missing one fails start-up.
REQUEST_LIMITER: Service[RequestLimiter] = Service("request_limiter")


class RateLimitHeaders:
    """ASGI middleware: a response to a rate-counted request carries the draft's headers."""

    def __init__(self, app: Any) -> None:
        self.app = app

    async def __call__(self, scope: Any, receive: Any, send: Any) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return

        async def send_with_headers(message: Any) -> None:
            if message["type"] == "http.response.start":
                state = scope.get("state") or {}
                found = state.get(RATE_STATE)
                if found is not None:
                    policy, decision = found
                    present = {k.lower() for k, _ in message.get("headers", [])}
                    extra = [
                        (k.lower().encode(), v.encode())
                        for k, v in decision.headers(policy).items()
                        if k.lower().encode() not in present
                    ]
                    message = {**message, "headers": [*message.get("headers", []), *extra]}
            await send(message)

        await self.app(scope, receive, send_with_headers)
