"""The event sink a worker hands the pipeline: validates, stores, publishes, tracks.

It tracks what is still open in the run (agents started, tools executing) so the worker can
end a run that failed, timed out or was cancelled with the missing events, in order.
"""

from __future__ import annotations

import time
from typing import Any

from netra.chat.event_writer import EventWriter
from netra.chat.events import EVENT_TYPES, OpenItems, RunClosed
from netra.chat.repository import RunRepository
from netra.core.db import Database


class RunSink:
    CANCEL_CHECK_EVERY_S = 0.25

    def __init__(
        self, writer: EventWriter, db: Database, run_id: str, org_id: str, items: OpenItems
    ) -> None:
        self.writer = writer
        self.db = db
        self.run_id = run_id
        self.org_id = org_id
        self.items = items
        self.lost = False  # set when another worker took the run over
        self._cancel_checked = 0.0
        self._cancel = False

    async def emit(self, type: str, payload: dict[str, Any]) -> int:
        if type not in EVENT_TYPES:
            raise ValueError(f"unknown run event type {type!r}")
        if not isinstance(payload, dict) or not isinstance(payload.get("agent"), str):
            raise ValueError("a run event's payload needs its 'agent'")
        if self.items.finished or self.lost:
            raise RunClosed(f"run {self.run_id} has ended")
        event = await self.writer.append(self.run_id, self.org_id, type, payload)
        self.items.track(type, payload)
        return event.seq

    async def cancelled(self) -> bool:
        if self._cancel:
            return True
        now = time.monotonic()
        if now - self._cancel_checked >= self.CANCEL_CHECK_EVERY_S:
            self._cancel_checked = now
            run_id, org_id = self.run_id, self.org_id
            self._cancel = await self.db.run(
                lambda s: RunRepository(s, org_id).cancel_requested(run_id)
            )
        return self._cancel

    async def close(
        self, status: str, error: dict[str, str] | None, result: dict[str, Any] | None = None
    ) -> None:
        """Emit whatever ends the run with ``status`` (nothing when it already ended)."""
        for type_, payload in self.items.closing_events(status, error, result):
            await self.writer.append(self.run_id, self.org_id, type_, payload)
            self.items.track(type_, payload)
