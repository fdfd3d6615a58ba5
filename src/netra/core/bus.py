"""Bus: publish/subscribe fan-out with ``memory://`` and ``redis://`` implementations.

A subscription holds a bounded buffer. When its reader falls behind past the bound, the
subscription is marked ``overflowed`` and receives nothing more: its owner closes it (a slow
WebSocket client gets 1013 and resumes from the durable event store). Its reader either awaits
:meth:`Subscription.get` or, holding no task while nothing arrives, sets a listener
(:meth:`Subscription.listen`) told of every change and takes messages with
:meth:`Subscription.get_nowait`.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections import defaultdict, deque
from collections.abc import AsyncIterator, Callable, Sequence
from typing import Protocol

import redis.asyncio as aioredis
import structlog

from netra.core.redis_driver import CLIENT_OPTIONS

log = structlog.get_logger("netra.core.bus")


class Subscription:
    """One reader's subscription. Messages wait in a plain bounded deque and the reader sleeps
    on one future, not an ``asyncio.Queue`` (about 3 KiB each): a WebSocket holds one."""

    # One per open WebSocket: slots, not a per-instance dict.
    __slots__ = (
        "_buffer",
        "_listener",
        "_waiter",
        "bus",
        "channel",
        "closed",
        "maxsize",
        "overflowed",
    )

    def __init__(self, bus: BusBase, channel: str, maxsize: int) -> None:
        self.bus = bus
        self.channel = channel
        self.maxsize = maxsize  # 0 or less: unbounded
        self._buffer: deque[bytes] = deque()
        self._waiter: asyncio.Future[None] | None = None  # the reader, while it waits
        self._listener: Callable[[], None] | None = None
        self.overflowed = False
        self.closed = False

    def listen(self, listener: Callable[[], None] | None) -> None:
        """Call ``listener`` (synchronously, from the bus's dispatch) on every message, on
        overflow and on close; None stops it."""
        self._listener = listener

    def _deliver(self, message: bytes) -> None:
        if self.closed or self.overflowed:
            return
        if 0 < self.maxsize <= len(self._buffer):
            self.overflowed = True
        else:
            self._buffer.append(message)
        self._wake()

    def _wake(self) -> None:
        waiter = self._waiter
        if waiter is not None and not waiter.done():
            waiter.set_result(None)
        if self._listener is not None:
            self._listener()

    def pending(self) -> int:
        """How many messages wait for the reader."""
        return len(self._buffer)

    def get_nowait(self) -> bytes | None:
        """The next waiting message, or None when none waits (or closed or overflowed)."""
        if self._buffer and not (self.closed or self.overflowed):
            return self._buffer.popleft()
        return None

    async def get(self) -> bytes | None:
        """The next message, or None once the subscription is closed or overflowed."""
        while not (self.closed or self.overflowed):
            if self._buffer:
                return self._buffer.popleft()
            waiter = asyncio.get_running_loop().create_future()
            self._waiter = waiter
            try:
                await waiter
            finally:
                self._waiter = None
        return None

    def __aiter__(self) -> AsyncIterator[bytes]:
        return self._iterate()

    async def _iterate(self) -> AsyncIterator[bytes]:
        while True:
            message = await self.get()
            if message is None:
                return
            yield message

    async def close(self) -> None:
        if not self.closed:
            self.closed = True
            self._wake()
            await self.bus._unsubscribe(self)

    async def __aenter__(self) -> Subscription:
        await self.bus._subscribe(self)
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.close()


class Bus(Protocol):
    url: str

    async def publish(self, channel: str, message: bytes) -> None: ...
    async def publish_many(self, messages: Sequence[tuple[str, bytes]]) -> None:
        """Publish in order, in one round trip where the bus can."""
        ...

    def subscribe(self, channel: str, maxsize: int = 1000) -> Subscription: ...
    async def ping(self) -> None: ...
    async def close(self) -> None: ...


class BusBase:
    def __init__(self, url: str, prefix: str) -> None:
        self.url = url
        self.prefix = prefix
        self._subs: dict[str, set[Subscription]] = defaultdict(set)

    def subscribe(self, channel: str, maxsize: int = 1000) -> Subscription:
        """Use as ``async with bus.subscribe(ch) as sub: async for msg in sub: ...``."""
        return Subscription(self, channel, maxsize)

    def _dispatch(self, channel: str, message: bytes) -> None:
        for sub in list(self._subs.get(channel, ())):
            sub._deliver(message)

    async def _subscribe(self, sub: Subscription) -> None:
        self._subs[sub.channel].add(sub)

    async def _unsubscribe(self, sub: Subscription) -> None:
        subs = self._subs.get(sub.channel)
        if subs is not None:
            subs.discard(sub)
            if not subs:
                del self._subs[sub.channel]


class MemoryBus(BusBase):
    def __init__(self, url: str = "memory://", prefix: str = "") -> None:
        super().__init__(url, prefix)

    async def publish(self, channel: str, message: bytes) -> None:
        self._dispatch(channel, message)

    async def publish_many(self, messages: Sequence[tuple[str, bytes]]) -> None:
        for channel, message in messages:
            self._dispatch(channel, message)

    async def ping(self) -> None:
        return None

    async def close(self) -> None:
        for subs in list(self._subs.values()):
            for sub in list(subs):
                sub.closed = True
                sub._wake()
        self._subs.clear()


class RedisBus(BusBase):
    """One Redis pub/sub connection per process, channels subscribed while local readers exist."""

    def __init__(self, url: str, prefix: str = "netra:") -> None:
        super().__init__(url, prefix)
        # No client-side health checks: on a pub/sub connection redis-py runs them inside
        # SUBSCRIBE as a PING *and a read*, which races the reader task for the reply and can
        # wait forever. The reader's bounded get_message notices a dead connection instead.
        self.client = aioredis.from_url(url, socket_connect_timeout=2, **CLIENT_OPTIONS)
        self._pubsub = self.client.pubsub(ignore_subscribe_messages=True)
        self._reader: asyncio.Task[None] | None = None
        self._lock = asyncio.Lock()

    async def publish(self, channel: str, message: bytes) -> None:
        await self.client.publish(self.prefix + "bus:" + channel, message)

    async def publish_many(self, messages: Sequence[tuple[str, bytes]]) -> None:
        pipe = self.client.pipeline(transaction=False)
        for channel, message in messages:
            pipe.publish(self.prefix + "bus:" + channel, message)
        await pipe.execute()

    async def _subscribe(self, sub: Subscription) -> None:
        async with self._lock:
            first = sub.channel not in self._subs
            await super()._subscribe(sub)
            if first:
                await self._pubsub.subscribe(self.prefix + "bus:" + sub.channel)
            if self._reader is None or self._reader.done():
                self._reader = asyncio.create_task(self._read(), name="redis-bus-reader")

    async def _unsubscribe(self, sub: Subscription) -> None:
        async with self._lock:
            await super()._unsubscribe(sub)
            if sub.channel not in self._subs and self._pubsub.connection is not None:
                with contextlib.suppress(Exception):
                    await self._pubsub.unsubscribe(self.prefix + "bus:" + sub.channel)

    async def _read(self) -> None:
        strip = len(self.prefix + "bus:")
        while True:
            if not self._pubsub.subscribed:
                await asyncio.sleep(0.05)
                continue
            try:
                msg = await self._pubsub.get_message(timeout=1.0)
            except (ConnectionError, OSError, aioredis.ConnectionError):
                await asyncio.sleep(0.5)
                continue
            if msg is None or msg.get("type") != "message":
                continue
            channel = msg["channel"]
            if isinstance(channel, bytes):
                channel = channel.decode()
            self._dispatch(channel[strip:], bytes(msg["data"]))

    async def ping(self) -> None:
        await self.client.ping()

    async def close(self) -> None:
        if self._reader is not None:
            self._reader.cancel()
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await self._reader
        for subs in list(self._subs.values()):
            for sub in list(subs):
                sub.closed = True
                sub._wake()
        self._subs.clear()
        with contextlib.suppress(Exception):
            await self._pubsub.aclose()
        await self.client.aclose()


def build_bus(url: str, prefix: str = "netra:") -> Bus:
    if url.startswith("memory://"):
        return MemoryBus(url, prefix)
    if url.startswith(("redis://", "rediss://", "unix://")):
        return RedisBus(url, prefix)
    raise ValueError(f"unsupported bus URL scheme: {url.split(':', 1)[0]}")


async def listen_forever(
    bus: Bus,
    channel: str,
    on_message: Callable[[bytes], None],
    listening: asyncio.Event,
    *,
    on_subscribed: Callable[[], None] | None = None,
    on_lost: Callable[[], None] | None = None,
) -> None:
    """Hand every message of ``channel`` to ``on_message`` until cancelled, subscribing again
    0.5 s after the bus fails. ``listening`` is set while subscribed; ``on_subscribed`` and
    ``on_lost`` run as a subscription begins and ends (messages may have been missed)."""
    while True:
        try:
            async with bus.subscribe(channel, 10_000) as sub:
                if on_subscribed is not None:
                    on_subscribed()
                listening.set()
                async for message in sub:
                    on_message(message)
        except asyncio.CancelledError:
            raise
        except Exception as exc:
            log.warning("bus listener failed; retrying", channel=channel, error=str(exc))
        finally:
            listening.clear()
            if on_lost is not None:
                on_lost()
        await asyncio.sleep(0.5)
