"""Budget checks in the background, coalesced per organisation.

An ingest calls :func:`schedule_budget_check` after its commit and returns at once. One check
per organisation runs at a time; requests arriving meanwhile collapse into one re-check after
it, so a burst of uploads costs at most two evaluations, never one per call.
"""

from __future__ import annotations

import asyncio
import contextlib

import structlog

from netra.billing.budgets import evaluate_budgets
from netra.core.runtime import Runtime
from netra.core.services import Service

log = structlog.get_logger("netra.budgets")

CHECKER: Service[BudgetChecker] = Service("budget_checker")


class BudgetChecker:
    def __init__(self, runtime: Runtime, concurrency: int = 4) -> None:
        self.runtime = runtime
        self._slots = asyncio.Semaphore(max(1, concurrency))
        self._running: dict[str, asyncio.Task[None]] = {}
        self._again: set[str] = set()
        self._closed = False

    def schedule(self, org_id: str) -> None:
        if self._closed:
            return
        if org_id in self._running:
            self._again.add(org_id)
            return
        task = asyncio.create_task(self._run(org_id), name=f"budget-check-{org_id}")
        self._running[org_id] = task

    async def _run(self, org_id: str) -> None:
        try:
            while True:
                self._again.discard(org_id)
                async with self._slots:
                    try:
                        await evaluate_budgets(self.runtime, org_id)
                    except Exception:
                        log.exception("budget check failed", org_id=org_id)
                if org_id not in self._again or self._closed:
                    return
        finally:
            self._running.pop(org_id, None)

    async def idle(self) -> None:
        while self._running:
            await asyncio.gather(*list(self._running.values()), return_exceptions=True)

    async def stop(self, timeout_s: float = 5.0) -> None:
        self._closed = True
        tasks = list(self._running.values())
        if tasks:
            _, late = await asyncio.wait(tasks, timeout=timeout_s)
            for task in late:
                task.cancel()
            with contextlib.suppress(Exception):
                await asyncio.gather(*late, return_exceptions=True)


async def schedule_budget_check(runtime: Runtime, org_id: str) -> None:
    """Check ``org_id``'s budgets soon, in the background; returns at once. Async so it fits
    ``after_commit(session, lambda: schedule_budget_check(runtime, org_id))``.

    The webhook-delivery task (``billing/tasks.py``) starts the checker; a process without
    one logs a warning and checks nothing.
    """
    checker = runtime.services.get(CHECKER)
    if checker is not None:
        checker.schedule(org_id)
        return
    log.warning("no budget checker in this process; budgets not checked", org_id=org_id)
