"""Contract tests: the same cases for the memory and the Redis implementations.

Subclass in tests/unit (memory) and tests/integration (Redis) and provide the fixture.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from typing import Any

from netra.core.bus import Bus, RedisBus
from netra.core.cache import Cache
from netra.core.queue import Queue


async def _eventually(check: Callable[[], Awaitable[bool]], wait_s: float = 10) -> None:
    """Wait for a condition with a generous deadline (never a fixed sleep, then a check)."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + wait_s
    while not await check():
        assert loop.time() < deadline, "the condition never held"
        await asyncio.sleep(0.02)


async def _is_none(value: Awaitable[Any]) -> bool:
    return await value is None


async def _true(value: bool) -> bool:
    return value


async def _subscribed(bus: Bus, *channels: str) -> None:
    """Wait until the server has the subscriptions (a Redis SUBSCRIBE travels on its own
    connection: a publish on another could overtake it). In memory they are immediate."""
    if not isinstance(bus, RedisBus):
        return
    names = [bus.prefix + "bus:" + c for c in channels]

    async def counted() -> bool:
        numsub = await bus.client.pubsub_numsub(*names)
        return all(int(n) >= 1 for _, n in numsub)

    await _eventually(counted)


class CacheContract:
    async def test_get_set_delete(self, cache: Cache) -> None:
        assert await cache.get("k") is None
        await cache.set("k", b"v")
        assert await cache.get("k") == b"v"
        await cache.delete("k")
        assert await cache.get("k") is None

    async def test_ttl_expires(self, cache: Cache) -> None:
        await cache.set("short", b"1", ttl_s=0.2)
        assert await cache.get("short") == b"1"
        ttl = await cache.ttl("short")
        assert ttl is not None and 0 < ttl <= 0.2
        await _eventually(lambda: _is_none(cache.get("short")))

    async def test_incr_counts_and_keeps_window(self, cache: Cache) -> None:
        assert await cache.incr("n", ttl_s=5) == 1
        assert await cache.incr("n", ttl_s=5) == 2
        ttl = await cache.ttl("n")
        assert ttl is not None and ttl <= 5

    async def test_concurrent_incr_loses_nothing(self, cache: Cache) -> None:
        results = await asyncio.gather(*(cache.incr("c") for _ in range(50)))
        assert sorted(results) == list(range(1, 51))

    async def test_set_first_absent_takes_the_first_free_key(self, cache: Cache) -> None:
        await cache.set("slot:0", b"held", 5)
        taken = await asyncio.gather(
            *(cache.set_first_absent("slot:", 3, b"me", 5) for _ in range(4))
        )
        assert sorted(t for t in taken if t is not None) == ["slot:1", "slot:2"]
        assert taken.count(None) == 2  # all held: nothing overwritten
        assert await cache.get("slot:0") == b"held" and await cache.get("slot:2") == b"me"
        ttl = await cache.ttl("slot:1")
        assert ttl is not None and 0 < ttl <= 5
        assert await cache.set_first_absent("slot:", 0, b"x", 5) is None

    async def test_delete_if_deletes_only_the_holders_key(self, cache: Cache) -> None:
        await cache.set("lease", b"me", 5)
        assert await cache.delete_if("lease", b"other") is False
        assert await cache.get("lease") == b"me"
        assert await cache.delete_if("lease", b"me") is True
        assert await cache.get("lease") is None
        assert await cache.delete_if("lease", b"me") is False

    async def test_renew_keeps_own_and_lost_leases_never_anothers(self, cache: Cache) -> None:
        await cache.set("l:mine", b"me", 0.5)
        await cache.set("l:theirs", b"them", 5)
        leases = [("l:mine", b"me"), ("l:theirs", b"me"), ("l:lost", b"me")]
        assert await cache.renew(leases, 30) == 2
        assert await cache.get("l:theirs") == b"them"  # another holder's lease stays theirs
        assert await cache.get("l:lost") == b"me"  # expired meanwhile: taken back
        for key in ("l:mine", "l:lost"):
            ttl = await cache.ttl(key)
            assert ttl is not None and 5 < ttl <= 30
        assert await cache.renew([], 30) == 0
        many = [(f"l:many:{i}", b"me") for i in range(1200)]  # more than one script call's worth
        assert await cache.renew(many, 30) == 1200
        assert await cache.get("l:many:1199") == b"me"

    async def test_set_if_absent_has_one_winner(self, cache: Cache) -> None:
        wins = await asyncio.gather(*(cache.set_if_absent("once", b"x", 5) for _ in range(10)))
        assert wins.count(True) == 1


class BusContract:
    async def test_publish_reaches_every_subscriber_of_the_channel_only(self, bus: Bus) -> None:
        async with bus.subscribe("a") as a1, bus.subscribe("a") as a2, bus.subscribe("b") as b:
            await _subscribed(bus, "a", "b")
            await bus.publish("a", b"one")
            await bus.publish("a", b"two")
            assert await asyncio.wait_for(a1.get(), 2) == b"one"
            assert await asyncio.wait_for(a1.get(), 2) == b"two"
            assert await asyncio.wait_for(a2.get(), 2) == b"one"
            await bus.publish("b", b"bee")
            assert await asyncio.wait_for(b.get(), 2) == b"bee"
            assert a1.pending() == 0

    async def test_order_is_kept(self, bus: Bus) -> None:
        async with bus.subscribe("ordered") as sub:
            await _subscribed(bus, "ordered")
            for i in range(100):
                await bus.publish("ordered", str(i).encode())
            got = [int(await asyncio.wait_for(sub.get(), 2) or b"-1") for _ in range(100)]
            assert got == list(range(100))

    async def test_publish_many_keeps_order_across_channels(self, bus: Bus) -> None:
        async with bus.subscribe("m1") as m1, bus.subscribe("m2") as m2:
            await _subscribed(bus, "m1", "m2")
            await bus.publish_many([(f"m{1 + i % 2}", str(i).encode()) for i in range(50)])
            got1 = [int(await asyncio.wait_for(m1.get(), 2) or b"-1") for _ in range(25)]
            got2 = [int(await asyncio.wait_for(m2.get(), 2) or b"-1") for _ in range(25)]
            assert got1 == list(range(0, 50, 2)) and got2 == list(range(1, 50, 2))

    async def test_slow_subscriber_is_marked_overflowed(self, bus: Bus) -> None:
        async with bus.subscribe("slow", maxsize=3) as sub:
            await _subscribed(bus, "slow")
            for i in range(10):
                await bus.publish("slow", str(i).encode())
            await _eventually(lambda: _true(sub.overflowed))
            assert await sub.get() is None

    async def test_a_listener_is_told_of_messages_overflow_and_close(self, bus: Bus) -> None:
        told: list[int] = []
        async with bus.subscribe("told", maxsize=3) as sub:
            sub.listen(lambda: told.append(sub.pending()))
            await _subscribed(bus, "told")
            await bus.publish_many([("told", b"1"), ("told", b"2")])
            await _eventually(lambda: _true(len(told) == 2))
            assert told == [1, 2]
            assert [sub.get_nowait(), sub.get_nowait(), sub.get_nowait()] == [b"1", b"2", None]
            await bus.publish_many([("told", str(i).encode()) for i in range(4)])
            await _eventually(lambda: _true(sub.overflowed))
            assert sub.get_nowait() is None  # overflowed: its owner closes it
            calls = len(told)
        assert len(told) == calls + 1  # told of the close too

    async def test_unsubscribed_gets_nothing(self, bus: Bus) -> None:
        sub = bus.subscribe("gone")
        async with sub:
            await _subscribed(bus, "gone")
        await bus.publish("gone", b"late")
        assert sub.pending() == 0  # nothing delivered after the close
        assert await sub.get() is None


class QueueContract:
    async def test_enqueue_reserve_ack(self, queue: Queue) -> None:
        job_id = await queue.enqueue({"run_id": "r1"})
        job = await queue.reserve("w1", timeout_s=1)
        assert job is not None and job.id == job_id and job.data == {"run_id": "r1"}
        await queue.ack(job)
        assert await queue.reserve("w1", timeout_s=0.2) is None

    async def test_each_job_goes_to_one_consumer(self, queue: Queue) -> None:
        for i in range(20):
            await queue.enqueue({"n": i})
        seen: list[int] = []

        async def consume(name: str) -> None:
            while True:
                job = await queue.reserve(name, timeout_s=0.3)
                if job is None:
                    return
                seen.append(job.data["n"])
                await queue.ack(job)

        await asyncio.gather(consume("a"), consume("b"), consume("c"))
        assert sorted(seen) == list(range(20))

    async def test_unacked_job_of_a_silent_consumer_is_reclaimed(self, queue: Queue) -> None:
        await queue.enqueue({"run_id": "r2"})
        job = await queue.reserve("dead-worker", timeout_s=1)
        assert job is not None
        assert await queue.reclaim("live-worker", min_idle_s=5) == []
        taken: list[Any] = []

        async def reclaimed() -> bool:
            taken.extend(await queue.reclaim("live-worker", min_idle_s=0.2))
            return bool(taken)

        await _eventually(reclaimed)
        assert [j.data for j in taken] == [{"run_id": "r2"}]
        assert taken[0].deliveries >= 2

    async def test_touched_job_is_not_reclaimed(self, queue: Queue) -> None:
        await queue.enqueue({"run_id": "r3"})
        job = await queue.reserve("busy", timeout_s=1)
        assert job is not None
        # Not a wait for an event: the job must age past the threshold below before the touch.
        await asyncio.sleep(3.0)
        await queue.touch(job, "busy")
        # Idle again from the touch: not reclaimable (2.5 s between the touch and this call is
        # a margin a loaded machine keeps; without the touch it would be 3 s idle).
        assert await queue.reclaim("other", min_idle_s=2.5) == []
