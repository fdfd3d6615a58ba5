"""The worker's event writer: store run events in batches, then publish them.

``submit`` queues an event and returns the future of its stored form: a run's sink queues its
next event without waiting for the previous one's commit, and events are written in the order
they were submitted (one writer task), so each run's order is kept. An event submitted
``after`` one that failed is refused with the same error, never written past the gap. Events
that arrive while a transaction is being written are gathered into the next one (group commit):
one event per transaction when idle, up to ``run_event_batch_max`` under load. Only after the commit
are the events published on their user's bus channel, in order, by a publisher task of their
own: a slow or frozen Redis delays delivery, never the run (its events are durable; clients fill
any gap from the store). Each publish is bounded; past ``OUTBOX_MAX`` waiting batches the oldest
are dropped from the bus (not from the store) and clients catch up from the store.
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


PUBLISH_TIMEOUT_S = 2.0
OUTBOX_MAX = 10_000


async def publish_events(bus: Bus, events: list[StoredEvent]) -> None:
    """Publish stored events in order, in one round trip (a Redis pipeline). A failure is
    logged, not raised: the events are durable, and clients fill any gap from the store
    (gap-fill on seq, or ``resume``)."""
    if not events:
        return
    messages = [(user_channel(e.user_id), e.wire()) for e in events]
    try:
        await asyncio.wait_for(bus.publish_many(messages), PUBLISH_TIMEOUT_S)
    except Exception as exc:
        first = events[0]
        log.warning(
            "event publish failed", run_id=first.run_id, seq=first.seq,
            error=str(exc) or type(exc).__name__, skipped=len(events),
        )  # fmt: skip


_Pending = tuple[NewEvent, "asyncio.Future[StoredEvent]", "asyncio.Future[StoredEvent] | None"]


def _failure(fut: asyncio.Future[StoredEvent] | None) -> BaseException | None:
    """The error a finished future ended with (a cancelled wait still stored its event)."""
    if fut is None or not fut.done() or fut.cancelled():
        return None
    return fut.exception()


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
        self._queue: asyncio.Queue[_Pending] = asyncio.Queue()
        self._task: asyncio.Task[None] | None = None
        self._outbox: asyncio.Queue[list[StoredEvent]] = asyncio.Queue()
        self._publisher: asyncio.Task[None] | None = None
        self.batches: list[int] = []  # sizes of the last batches written (observability, tests)

    async def start(self) -> None:
        if self._task is None:
            self._task = asyncio.create_task(self._loop(), name="run-event-writer")
            self._publisher = asyncio.create_task(self._publish_loop(), name="run-event-publisher")

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
            self._task = None
        if self._publisher is not None:
            # What is stored is published if the bus answers soon; else clients catch up.
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._outbox.join(), PUBLISH_TIMEOUT_S)
            self._publisher.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._publisher
            self._publisher = None
        while not self._queue.empty():
            _, fut, _ = self._queue.get_nowait()
            if not fut.done():
                fut.set_exception(RuntimeError("event writer stopped"))

    def submit(
        self,
        event: NewEvent,
        after: asyncio.Future[StoredEvent] | None = None,
    ) -> asyncio.Future[StoredEvent]:
        """Queue ``event`` (stored only while its ``worker_id`` holds the run, when given, then
        published); refused with ``after``'s error if ``after`` (the run's previous event)
        failed. The future resolves once it is committed."""
        if self._task is None:
            raise RuntimeError("event writer not started")
        fut: asyncio.Future[StoredEvent] = asyncio.get_running_loop().create_future()
        fut.add_done_callback(_failure)  # marks the error seen: a run that stopped drops its own
        self._queue.put_nowait((event, fut, after))
        return fut

    async def append(
        self,
        run_id: str,
        org_id: str,
        type_: str,
        payload: dict[str, Any],
        worker_id: str | None = None,
    ) -> StoredEvent:
        """Store one event and wait for its commit."""
        return await self.submit(NewEvent(run_id, org_id, type_, payload, worker_id))

    async def _loop(self) -> None:
        while True:
            batch = [await self._queue.get()]
            while len(batch) < self.batch_max and not self._queue.empty():
                batch.append(self._queue.get_nowait())
            await self._write(batch)

    async def _write(self, queued: list[_Pending]) -> None:
        batch: list[tuple[NewEvent, asyncio.Future[StoredEvent]]] = []
        for event, fut, after in queued:
            failure = _failure(after)
            if failure is not None:
                if not fut.done():
                    fut.set_exception(failure)
            else:
                batch.append((event, fut))
        if not batch:
            return
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
        if stored:
            if self._outbox.qsize() >= OUTBOX_MAX:
                dropped = self._outbox.get_nowait()
                self._outbox.task_done()
                log.warning("bus backlog full: events left to the store", dropped=len(dropped))
            self._outbox.put_nowait(stored)
        for (_, fut), result in zip(batch, results, strict=True):
            if fut.done():
                continue
            if isinstance(result, StoredEvent):
                fut.set_result(result)
            else:
                fut.set_exception(result)

    async def _publish_loop(self) -> None:
        while True:
            events = await self._outbox.get()
            try:
                await publish_events(self.bus, events)
            finally:
                self._outbox.task_done()

    async def published(self) -> None:
        """Wait until every stored event so far went to the bus (tests, hand-offs)."""
        await self._outbox.join()
