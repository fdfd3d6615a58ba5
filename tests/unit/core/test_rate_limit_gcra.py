"""U15: the GCRA limiter is exact at its boundaries, never unlimited, and falls back locally."""

from __future__ import annotations

import pytest

from netra.core.ratelimit import (
    Decision,
    FallbackLimiter,
    LocalLimiter,
    gcra,
    retry_seconds,
)
from netra.core.resilience import CircuitState


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


@pytest.mark.parametrize("quota", [1, 7, 60, 300, 1200, 6000])
def test_the_whole_quota_passes_at_once_and_the_next_request_does_not(quota: int) -> None:
    clock = Clock()
    limiter = LocalLimiter(clock)
    decisions = [limiter.hit_now("org:a", quota, 60) for _ in range(quota)]
    assert all(d.allowed for d in decisions)
    assert decisions[0].remaining == quota - 1 and decisions[-1].remaining == 0
    refused = limiter.hit_now("org:a", quota, 60)
    assert not refused.allowed and refused.remaining == 0
    # Exactly one emission interval later one more request passes, and only one.
    interval = 60 / quota
    assert refused.retry_after_s == pytest.approx(interval)
    clock.now += interval * 0.999
    assert not limiter.hit_now("org:a", quota, 60).allowed
    clock.now += interval * 0.001
    assert limiter.hit_now("org:a", quota, 60).allowed
    assert not limiter.hit_now("org:a", quota, 60).allowed


def test_a_steady_rate_at_the_limit_is_never_refused_and_above_it_is() -> None:
    clock = Clock()
    limiter = LocalLimiter(clock)
    for _ in range(60):
        assert limiter.hit_now("k", 60, 60).allowed
    # After the burst: one per second passes for ten minutes, the 2nd in a second never.
    for _ in range(600):
        clock.now += 1.0
        assert limiter.hit_now("k", 60, 60).allowed
        assert not limiter.hit_now("k", 60, 60).allowed


def test_a_refused_request_costs_nothing_and_the_quota_refills_completely() -> None:
    clock = Clock()
    limiter = LocalLimiter(clock)
    for _ in range(10):
        limiter.hit_now("k", 10, 60)
    for _ in range(100):  # hammering while refused does not push the next slot further
        assert not limiter.hit_now("k", 10, 60).allowed
    clock.now += 6.0
    assert limiter.hit_now("k", 10, 60).allowed
    clock.now += 60.0
    first = limiter.hit_now("k", 10, 60)
    assert first.allowed and first.remaining == 9 and first.reset_s == pytest.approx(6.0)


def test_keys_are_independent() -> None:
    limiter = LocalLimiter(Clock())
    for _ in range(3):
        assert limiter.hit_now("org:a", 3, 60).allowed
    assert not limiter.hit_now("org:a", 3, 60).allowed
    assert limiter.hit_now("org:b", 3, 60).allowed


def test_a_zero_quota_refuses_everything() -> None:
    decision, _ = gcra(None, 5.0, 0, 60)
    assert not decision.allowed
    assert not LocalLimiter(Clock()).hit_now("k", 0, 60).allowed


def test_headers_follow_the_ietf_draft() -> None:
    clock = Clock()
    limiter = LocalLimiter(clock)
    ok = limiter.hit_now("k", 60, 60)
    assert ok.headers("free") == {
        "RateLimit-Policy": '"free";q=60;w=60',
        "RateLimit": '"free";r=59;t=1',
    }
    for _ in range(59):
        limiter.hit_now("k", 60, 60)
    refused = limiter.hit_now("k", 60, 60)
    headers = refused.headers("free")
    assert headers["RateLimit"] == '"free";r=0;t=60' and headers["Retry-After"] == "1"


def test_retry_after_is_whole_seconds_and_never_zero() -> None:
    assert retry_seconds(0.0) == 1
    assert retry_seconds(0.2) == 1
    assert retry_seconds(1.0) == 1
    assert retry_seconds(1.01) == 2


def test_the_local_limiter_forgets_the_least_recent_key_beyond_its_size() -> None:
    limiter = LocalLimiter(Clock(), max_keys=2)
    limiter.hit_now("a", 1, 60)
    limiter.hit_now("b", 1, 60)
    limiter.hit_now("c", 1, 60)
    assert not limiter.hit_now("c", 1, 60).allowed
    assert limiter.hit_now("a", 1, 60).allowed  # forgotten: a fresh quota


class Broken:
    def __init__(self) -> None:
        self.calls = 0

    async def hit(self, key: str, quota: int, window_s: int) -> Decision:
        self.calls += 1
        raise ConnectionError("redis is down")


async def test_without_redis_each_replica_limits_alone_never_unlimited() -> None:
    clock = Clock()
    shared = Broken()
    limiter = FallbackLimiter(shared, LocalLimiter(clock), retry_redis_after_s=5, clock=clock)
    answers = [await limiter.hit("org:a", 5, 60) for _ in range(6)]
    assert [a.allowed for a in answers] == [True] * 5 + [False]
    assert not any(a.shared for a in answers)
    assert shared.calls == 1, "after one failure Redis is skipped for a while"
    assert limiter.breaker.state is CircuitState.OPEN
    clock.now += 5
    await limiter.hit("org:a", 5, 60)
    assert shared.calls == 2, "then tried again"
