"""The worker's event writer: store run events in batches, then publish them.

Every ``append`` waits until its event is committed (durable before it is sent). Appends that
arrive while a transaction is being written are gathered into the next one (group commit): one
event per transaction when idle, up to ``run_event_batch_max`` under load. Only after the commit
are the events published on their user's bus channel, in order.
"""

from __future__ import annotations

import asyncio
import contextlib
from typing import Any

import structlog

from netra.billing.webhooks import Deliver
from netra.chat.events import NewEvent, StoredEvent, append_events, user_channel
from netra.core.bus import Bus
from netra.core.db import Database
from netra.core.observability import Metrics

log = structlog.get_logger("netra.chat.events")


async def publish_events(bus: Bus, events: list[StoredEvent]) -> None:
    """Publish stored events in order. A failure is logged, not raised: the event is durable,
    and clients fill any gap from the store (gap-fill on seq, or ``resume``)."""
    for event in events:
        try:
            await bus.publish(user_channel(event.user_id), event.wire())
        except Exception as exc:
            log.warning("event publish failed", run_id=event.run_id, seq=event.seq, error=str(exc))


class EventWriter:
    def __init__(
        self,
        db: Database,
        bus: Bus,
        metrics: Metrics,
        batch_max: int = 200,
        deliver: Deliver | None = None,
    ) -> None:
        self.db = db
        self.deliver = deliver  # hands a finished run's webhook deliveries over, once committed
        self.bus = bus
        self.metrics = metrics
        self.batch_max = max(1, batch_max)
        self._queue: asyncio.Queue[tuple[NewEvent, asyncio.Future[StoredEvent]]] = asyncio.Queue()
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
        await self._queue.put((NewEvent(run_id, org_id, type_, payload), fut))
        return await fut

    async def _loop(self) -> None:
        while True:
            batch = [await self._queue.get()]
            while len(batch) < self.batch_max and not self._queue.empty():
                batch.append(self._queue.get_nowait())
            await self._write(batch)

    async def _write(self, batch: list[tuple[NewEvent, asyncio.Future[StoredEvent]]]) -> None:
        pending = [p for p, _ in batch]
        try:
            results = await self.db.run(lambda s: append_events(s, pending, self.deliver))
        except Exception as exc:  # the database refused the whole transaction
            for _, fut in batch:
                if not fut.done():
                    fut.set_exception(exc)
            return
        stored = [r for r in results if isinstance(r, StoredEvent)]
        self.batches = [*self.batches[-99:], len(stored)]
        self.metrics.run_events.inc(len(stored))
        await publish_events(self.bus, stored)
        for (_, fut), result in zip(batch, results, strict=True):
            if fut.done():
                continue
            if isinstance(result, StoredEvent):
                fut.set_result(result)
            else:
                fut.set_exception(result)
