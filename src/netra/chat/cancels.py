"""Cancel requests pushed to workers on the bus, with the database as the fallback.

``cancel_run`` stores ``cancel_requested`` on the run; once that is committed the API announces
the run id on :data:`RUN_CANCELS_CHANNEL`. Each worker listens on it and raises the flag of the
run it executes, so a sink learns of a cancel without asking the database every 0.25 s. The
database stays the truth: a sink asks it on its first check (a cancel committed before the
worker listened), every ``SLOW_POLL_S`` while the worker listens (a message lost on a live
subscription), and every ``FAST_POLL_S`` while it does not (Redis away: as before the bus).
"""

from __future__ import annotations

import asyncio
import contextlib

import structlog

from netra.core.bus import Bus, listen_forever

log = structlog.get_logger("netra.chat.cancels")

RUN_CANCELS_CHANNEL = "run-cancels"
PUBLISH_TIMEOUT_S = 2.0
FAST_POLL_S = 0.25
SLOW_POLL_S = 5.0


async def announce_cancel(bus: Bus, run_id: str) -> None:
    """Tell the workers (after the commit); a failure is logged: their poll finds it."""
    try:
        await asyncio.wait_for(bus.publish(RUN_CANCELS_CHANNEL, run_id.encode()), PUBLISH_TIMEOUT_S)
    except Exception as exc:
        log.warning("cancel announce failed", run_id=run_id, error=str(exc) or type(exc).__name__)


class CancelWatch:
    """A worker's ear on the cancel channel: one flag per run it executes."""

    def __init__(self, bus: Bus) -> None:
        self.bus = bus
        self.listening = asyncio.Event()
        self._flags: dict[str, asyncio.Event] = {}
        self._task: asyncio.Task[None] | None = None

    def watch(self, run_id: str) -> asyncio.Event:
        return self._flags.setdefault(run_id, asyncio.Event())

    def forget(self, run_id: str) -> None:
        self._flags.pop(run_id, None)

    def poll_every_s(self) -> float:
        return SLOW_POLL_S if self.listening.is_set() else FAST_POLL_S

    async def start(self) -> None:
        if self._task is None:
            self._task = asyncio.create_task(self._listen(), name="run-cancels")
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self.listening.wait(), 5)

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
            self._task = None

    async def _listen(self) -> None:
        def flag(message: bytes) -> None:
            event = self._flags.get(message.decode(errors="replace"))
            if event is not None:
                event.set()

        # While not listening messages may be missed: sinks poll fast meanwhile.
        await listen_forever(self.bus, RUN_CANCELS_CHANNEL, flag, self.listening)
