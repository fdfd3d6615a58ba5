"""The worker's event writer: store run events in batches, then publish them.

Every ``append`` waits until its event is committed (durable before it is sent). Appends that
arrive while a transaction is being written are gathered into the next one (group commit): one
event per transaction when idle, up to ``run_event_batch_max`` under load. Only after the commit
are the events published on their user's bus channel, in order.
"""

from __future__ import annotations

import asyncio
import contextlib
from dataclasses import dataclass
from typing import Any

import structlog
from sqlalchemy.ext.asyncio import AsyncSession

from netra.chat.events import StoredEvent, append_event, user_channel
from netra.core.bus import Bus
from netra.core.db import Database
from netra.core.observability import Metrics

log = structlog.get_logger("netra.chat.events")


@dataclass(frozen=True, slots=True)
class PendingEvent:
    run_id: str
    org_id: str
    type: str
    payload: dict[str, Any]


async def publish_events(bus: Bus, events: list[StoredEvent]) -> None:
    """Publish stored events in order. A failure is logged, not raised: the event is durable,
    and clients fill any gap from the store (gap-fill on seq, or ``resume``)."""
    for event in events:
        try:
            await bus.publish(user_channel(event.user_id), event.wire())
        except Exception as exc:
            log.warning("event publish failed", run_id=event.run_id, seq=event.seq, error=str(exc))


async def store_events(session: AsyncSession, batch: list[PendingEvent]) -> list[StoredEvent]:
    return [
        await append_event(
            session, run_id=p.run_id, org_id=p.org_id, type_=p.type, payload=p.payload
        )
        for p in batch
    ]


class EventWriter:
    def __init__(self, db: Database, bus: Bus, metrics: Metrics, batch_max: int = 200) -> None:
        self.db = db
        self.bus = bus
        self.metrics = metrics
        self.batch_max = max(1, batch_max)
        self._queue: asyncio.Queue[tuple[PendingEvent, asyncio.Future[StoredEvent]]] = (
            asyncio.Queue()
        )
        self._task: asyncio.Task[None] | None = None
        self.batches: list[int] = []  # sizes of the last batches written (observability, tests)

    async def start(self) -> None:
        if self._task is None:
            self._task = asyncio.create_task(self._loop(), name="run-event-writer")

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
            self._task = None
        while not self._queue.empty():
            _, fut = self._queue.get_nowait()
            if not fut.done():
                fut.set_exception(RuntimeError("event writer stopped"))

    async def append(
        self, run_id: str, org_id: str, type_: str, payload: dict[str, Any]
    ) -> StoredEvent:
        if self._task is None:
            raise RuntimeError("event writer not started")
        fut: asyncio.Future[StoredEvent] = asyncio.get_running_loop().create_future()
        await self._queue.put((PendingEvent(run_id, org_id, type_, payload), fut))
        return await fut

    async def _loop(self) -> None:
        while True:
            batch = [await self._queue.get()]
            while len(batch) < self.batch_max and not self._queue.empty():
                batch.append(self._queue.get_nowait())
            await self._write(batch)

    async def _write(self, batch: list[tuple[PendingEvent, asyncio.Future[StoredEvent]]]) -> None:
        pending = [p for p, _ in batch]
        try:
            stored = await self.db.run(lambda s: store_events(s, pending))
        except Exception as exc:
            if len(batch) > 1:
                # One bad event (say, of a run already closed) must not fail the others.
                for item in batch:
                    await self._write([item])
            elif not batch[0][1].done():
                batch[0][1].set_exception(exc)
            return
        self.batches = [*self.batches[-99:], len(stored)]
        self.metrics.run_events.inc(len(stored))
        await publish_events(self.bus, stored)
        for (_, fut), event in zip(batch, stored, strict=True):
            if not fut.done():
                fut.set_result(event)
