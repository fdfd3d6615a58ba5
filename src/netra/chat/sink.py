"""The event sink a worker hands the pipeline: validates, stores, publishes, tracks.

It tracks what is still open in the run (agents started, tools executing) so the worker can
end a run that failed, timed out or was cancelled with the missing events, in order.

A run taken over from a dead worker is executed again from its last completed step. Its sink
is given the events already stored: while the pipeline re-emits them (the part of a step the
dead worker had begun, the supervisor's words between steps), each is matched with the stored
one and not stored again; ``skip_through`` passes over the events of a completed step the
pipeline restores instead of executing. So ``seq`` continues with no gap and no repeat. An
event that differs from the stored one (the re-execution took another path) ends the resume:
the sink refuses every further event and the worker ends the run ``failed``.

``emit`` does not wait for the event's commit: it hands the event to the writer, which keeps
the run's order, batches commits and publishes each event only once committed. A write that
fails (the run ended, another worker holds it, the database refused) is raised by the run's
next ``emit`` or ``flush``, and every later event of the run is refused. ``flush`` waits until
every event emitted so far is stored: the step journal flushes before recording a step, the
worker before ending the run.
"""

from __future__ import annotations

import asyncio
import time
from collections import deque
from typing import Any

from netra.chat.cancels import FAST_POLL_S, CancelWatch
from netra.chat.event_writer import EventWriter
from netra.chat.events import (
    EVENT_TYPES,
    FINAL_STATUSES,
    NewEvent,
    OpenItems,
    RunClosed,
    StoredEvent,
    is_final_event,
)
from netra.chat.repository import RunRepository
from netra.core.db import Database


class ResumeDiverged(RunClosed):
    """The re-executed run emitted something other than what its first execution stored."""


class RunSink:
    # Events of one run queued and not yet committed before ``emit`` waits for the oldest: a
    # pipeline emitting faster than the database stores cannot grow the queue without bound.
    MAX_IN_FLIGHT = 256

    def __init__(
        self,
        writer: EventWriter,
        db: Database,
        run_id: str,
        org_id: str,
        items: OpenItems,
        *,
        worker_id: str | None = None,
        replay: list[StoredEvent] | None = None,
        cancels: CancelWatch | None = None,
    ) -> None:
        self.writer = writer
        self.db = db
        self.run_id = run_id
        self.org_id = org_id
        self.items = items
        self.worker_id = worker_id
        self.lost = False  # set when another worker took the run over
        self.diverged = False
        self._replay = list(replay or [])
        self._cursor = 0  # the next stored event a re-emitted one must match
        self._call_ids: dict[str, str] = {}  # re-executed tool call id -> the stored one
        # The seq of the run's last event stored (or matched); ``_seq`` counts the emitted ones.
        self.last_seq = self._replay[-1].seq if self._replay else 0
        self._seq = self.last_seq
        # Emitted, not yet settled: (type, payload, future of its stored form), oldest first.
        self._in_flight: deque[tuple[str, dict[str, Any], asyncio.Future[StoredEvent]]] = deque()
        self._failed: BaseException | None = None  # the first write of the run that failed
        self._ended = False  # the final event was emitted: nothing may follow
        self.replayed = 0  # events matched instead of stored (observability, tests)
        self._cancels = cancels  # the worker's ear on the bus (None: poll the database)
        self._cancel_heard = cancels.watch(run_id) if cancels is not None else None
        self._cancel_checked: float | None = None  # the first check always asks the database
        self._cancel = False

    @property
    def replaying(self) -> bool:
        return self._cursor < len(self._replay)

    async def emit(self, type: str, payload: dict[str, Any]) -> int:
        if type not in EVENT_TYPES:
            raise ValueError(f"unknown run event type {type!r}")
        if not isinstance(payload, dict) or not isinstance(payload.get("agent"), str):
            raise ValueError("a run event's payload needs its 'agent'")
        if self.diverged:
            raise ResumeDiverged(f"run {self.run_id}: the re-execution diverged")
        final = is_final_event(type, payload)
        if final and payload.get("status") not in FINAL_STATUSES:
            raise ValueError(f"final agent_completed has an invalid status: {payload['status']!r}")
        self._settle()
        if self._failed is not None:
            raise self._failed
        if self._ended or self.items.finished or self.lost:
            raise RunClosed(f"run {self.run_id} has ended")
        call_id = payload.get("tool_call_id")
        if isinstance(call_id, str) and call_id in self._call_ids:
            payload = {**payload, "tool_call_id": self._call_ids[call_id]}
        if self.replaying:
            return self._match(type, payload)
        if len(self._in_flight) >= self.MAX_IN_FLIGHT:
            await asyncio.wait({self._in_flight[0][2]})
        previous = self._in_flight[-1][2] if self._in_flight else None
        event = NewEvent(self.run_id, self.org_id, type, payload, self.worker_id)
        self._in_flight.append((type, payload, self.writer.submit(event, after=previous)))
        self._ended = final
        self._seq += 1
        return self._seq  # the writer is this run's only one (fenced): it stores it as _seq

    def _settle(self) -> None:
        """Account for the emitted events whose write has finished, in order."""
        while self._in_flight and self._in_flight[0][2].done():
            type_, payload, fut = self._in_flight.popleft()
            exc: BaseException | None = (
                RunClosed("the event's write was interrupted")
                if fut.cancelled()
                else fut.exception()
            )
            if exc is not None:
                self._failed = self._failed or exc
                continue
            self.items.track(type_, payload)
            self.last_seq = fut.result().seq

    async def drain(self) -> None:
        """Wait until every event emitted so far is written or refused."""
        if self._in_flight:
            await asyncio.wait({fut for _, _, fut in self._in_flight})
        self._settle()

    async def flush(self) -> None:
        """Wait until every event emitted so far is stored; raise the run's failed write."""
        await self.drain()
        if self._failed is not None:
            raise self._failed

    def _match(self, type_: str, payload: dict[str, Any]) -> int:
        stored = self._replay[self._cursor]
        if not _same(stored, type_, payload):
            self.diverged = True
            raise ResumeDiverged(
                f"run {self.run_id}: re-executed {type_} ({payload.get('agent')}) differs from "
                f"the stored event {stored.seq} ({stored.type}, {stored.payload.get('agent')})"
            )
        self._cursor += 1
        self.replayed += 1
        self._seq = stored.seq
        if type_ == "tool_executing":
            self._call_ids[str(payload.get("tool_call_id"))] = str(
                stored.payload.get("tool_call_id")
            )
        self.last_seq = stored.seq
        return stored.seq

    def skip_through(self, seq: int) -> None:
        """Pass over the stored events up to ``seq`` (a completed step, restored)."""
        while self.replaying and self._replay[self._cursor].seq <= seq:
            self._cursor += 1
        self.last_seq = max(self.last_seq, seq)
        self._seq = max(self._seq, seq)

    async def cancelled(self) -> bool:
        """Whether a cancel was requested: heard on the bus, else asked of the database (see
        :mod:`netra.chat.cancels` for when)."""
        if self._cancel or (self._cancel_heard is not None and self._cancel_heard.is_set()):
            self._cancel = True
            return True
        every = self._cancels.poll_every_s() if self._cancels is not None else FAST_POLL_S
        now = time.monotonic()
        if self._cancel_checked is None or now - self._cancel_checked >= every:
            self._cancel_checked = now
            run_id, org_id = self.run_id, self.org_id
            self._cancel = await self.db.run(
                lambda s: RunRepository(s, org_id).cancel_requested(run_id)
            )
        return self._cancel

    async def close(
        self, status: str, error: dict[str, str] | None, result: dict[str, Any] | None = None
    ) -> None:
        """Emit whatever ends the run with ``status`` (nothing when it already ended), once the
        events emitted before are settled. Raises :class:`RunClosed` when the run was ended
        or taken over meanwhile; after any other failed write the run is ended from what is
        stored."""
        await self.drain()
        if isinstance(self._failed, RunClosed):
            raise self._failed
        for type_, payload in self.items.closing_events(status, error, result):
            event = await self.writer.append(
                self.run_id, self.org_id, type_, payload, self.worker_id
            )
            self.items.track(type_, payload)
            self.last_seq = event.seq


def _same(stored: StoredEvent, type_: str, payload: dict[str, Any]) -> bool:
    """Whether a re-emitted event is the stored one (the words and timings may differ)."""
    if stored.type != type_ or stored.payload.get("agent") != payload.get("agent"):
        return False
    if type_ in ("tool_executing", "tool_completed"):
        if stored.payload.get("tool") != payload.get("tool"):
            return False
    if type_ == "tool_completed":
        return stored.payload.get("tool_call_id") == payload.get("tool_call_id")
    if type_ == "agent_completed":
        return stored.payload.get("status") == payload.get("status")
    return True
