"""A background purge that runs every ``interval_s`` until stopped (auth housekeeping, data
retention). The first round comes one interval after start, so a restart loop never hammers the
tables; a failed round is logged and the next one tries again."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field

import structlog

Round = Callable[[], Awaitable[dict[str, int]]]  # -> rows deleted per kind


@dataclass
class PeriodicPurge:
    name: str  # the task's name and the log event
    interval_s: float
    round: Round
    _task: asyncio.Task[None] | None = field(default=None, init=False)

    def start(self) -> None:
        self._task = asyncio.create_task(self._loop(), name=self.name)

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task

    async def _loop(self) -> None:
        log = structlog.get_logger(f"netra.{self.name}")
        while True:
            await asyncio.sleep(self.interval_s)
            try:
                deleted = await self.round()
            except Exception as exc:  # the next round tries again
                log.warning(f"{self.name} failed", error=str(exc))
                continue
            if any(deleted.values()):
                log.info(self.name, **deleted)
