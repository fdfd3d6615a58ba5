"""Job queue: ``memory://`` (embedded) and ``redis://`` (Redis Streams with a consumer group).

At-least-once delivery: a job stays pending until ``ack``. A worker holding a job ``touch``es it
while it works; a job whose holder went silent for ``min_idle_s`` is handed to another worker by
``reclaim``. Executing a job exactly once is the job's own business (runs claim themselves in the
database), the queue only guarantees nothing is lost.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import time
import uuid
from dataclasses import dataclass
from typing import Any, Protocol

import redis.asyncio as aioredis

from netra.core.redis_driver import CLIENT_OPTIONS


@dataclass(frozen=True, slots=True)
class Job:
    id: str
    data: dict[str, Any]
    deliveries: int = 1


class Queue(Protocol):
    url: str

    async def enqueue(self, data: dict[str, Any]) -> str: ...
    async def reserve(self, consumer: str, timeout_s: float = 1.0) -> Job | None: ...
    async def touch(self, job: Job, consumer: str) -> None: ...
    async def ack(self, job: Job) -> None: ...
    async def reclaim(self, consumer: str, min_idle_s: float) -> list[Job]: ...
    async def pending(self) -> int: ...
    async def ping(self) -> None: ...
    async def close(self) -> None: ...


class MemoryQueue:
    def __init__(self, url: str = "memory://", name: str = "runs") -> None:
        self.url = url
        self.name = name
        self._ready: asyncio.Queue[Job] = asyncio.Queue()
        self._held: dict[str, tuple[Job, str, float]] = {}

    async def enqueue(self, data: dict[str, Any]) -> str:
        job = Job(uuid.uuid4().hex, json.loads(json.dumps(data)))
        await self._ready.put(job)
        return job.id

    async def reserve(self, consumer: str, timeout_s: float = 1.0) -> Job | None:
        try:
            job = await asyncio.wait_for(self._ready.get(), timeout_s)
        except TimeoutError:
            return None
        self._held[job.id] = (job, consumer, time.monotonic())
        return job

    async def touch(self, job: Job, consumer: str) -> None:
        if job.id in self._held:
            self._held[job.id] = (self._held[job.id][0], consumer, time.monotonic())

    async def ack(self, job: Job) -> None:
        self._held.pop(job.id, None)

    async def reclaim(self, consumer: str, min_idle_s: float) -> list[Job]:
        now = time.monotonic()
        taken: list[Job] = []
        for job_id, (job, _, seen) in list(self._held.items()):
            if now - seen >= min_idle_s:
                again = Job(job.id, job.data, job.deliveries + 1)
                self._held[job_id] = (again, consumer, now)
                taken.append(again)
        return taken

    async def pending(self) -> int:
        return self._ready.qsize() + len(self._held)

    async def ping(self) -> None:
        return None

    async def close(self) -> None:
        self._held.clear()


class RedisQueue:
    GROUP = "workers"
    MAX_BLOCK_S = 5.0

    def __init__(self, url: str, prefix: str = "netra:", name: str = "runs") -> None:
        self.url = url
        self.key = f"{prefix}queue:{name}"
        # Every read is bounded: a blocking XREADGROUP waits at most MAX_BLOCK_S on the server,
        # so a reply later than the socket timeout means a dead connection, not a quiet queue.
        self.client = aioredis.from_url(
            url,
            socket_connect_timeout=2,
            socket_timeout=self.MAX_BLOCK_S + 5,
            health_check_interval=15,
            **CLIENT_OPTIONS,
        )
        self._group_ready = False

    async def _ensure_group(self) -> None:
        if self._group_ready:
            return
        try:
            await self.client.xgroup_create(self.key, self.GROUP, id="0", mkstream=True)
        except aioredis.ResponseError as exc:
            if "BUSYGROUP" not in str(exc):
                raise
        self._group_ready = True

    async def enqueue(self, data: dict[str, Any]) -> str:
        await self._ensure_group()
        msg_id = await self.client.xadd(self.key, {"data": json.dumps(data)})
        return msg_id.decode() if isinstance(msg_id, bytes) else str(msg_id)

    @staticmethod
    def _job(msg_id: bytes | str, fields: dict[bytes, bytes], deliveries: int = 1) -> Job:
        ident = msg_id.decode() if isinstance(msg_id, bytes) else msg_id
        return Job(ident, json.loads(fields[b"data"]), deliveries)

    def _lost_group(self, exc: aioredis.ResponseError) -> bool:
        """A Redis restarted without its data lost the stream and its group: create again."""
        if "NOGROUP" in str(exc):
            self._group_ready = False
            return True
        return False

    async def reserve(self, consumer: str, timeout_s: float = 1.0) -> Job | None:
        await self._ensure_group()
        try:
            result = await self.client.xreadgroup(
                self.GROUP,
                consumer,
                {self.key: ">"},
                count=1,
                block=max(1, int(min(timeout_s, self.MAX_BLOCK_S) * 1000)),
            )
        except aioredis.ResponseError as exc:
            if self._lost_group(exc):
                return None  # the next call creates the group (runs lost with it are swept)
            raise
        streams: list[Any] = list(result or [])
        for _stream, messages in streams:
            for msg_id, fields in messages:
                return self._job(msg_id, fields)
        return None

    async def touch(self, job: Job, consumer: str) -> None:
        # XCLAIM by the holder itself resets the idle time: the job is not reclaimable.
        await self.client.xclaim(self.key, self.GROUP, consumer, 0, [job.id], justid=True)

    async def ack(self, job: Job) -> None:
        async with self.client.pipeline(transaction=True) as pipe:
            pipe.xack(self.key, self.GROUP, job.id)
            pipe.xdel(self.key, job.id)
            await pipe.execute()

    async def reclaim(self, consumer: str, min_idle_s: float) -> list[Job]:
        await self._ensure_group()
        try:
            result = await self.client.xautoclaim(
                self.key, self.GROUP, consumer, int(min_idle_s * 1000), "0-0", count=10
            )
        except aioredis.ResponseError as exc:
            if self._lost_group(exc):
                return []
            raise
        messages: list[Any] = list(result[1]) if len(result) > 1 else []
        return [self._job(msg_id, fields, 2) for msg_id, fields in messages if fields]

    async def pending(self) -> int:
        await self._ensure_group()
        return int(await self.client.xlen(self.key))

    async def ping(self) -> None:
        await self.client.ping()

    async def close(self) -> None:
        with contextlib.suppress(Exception):
            await self.client.aclose()


def build_queue(url: str, prefix: str = "netra:", name: str = "runs") -> Queue:
    if url.startswith("memory://"):
        return MemoryQueue(url, name)
    if url.startswith(("redis://", "rediss://", "unix://")):
        return RedisQueue(url, prefix, name)
    raise ValueError(f"unsupported queue URL scheme: {url.split(':', 1)[0]}")
