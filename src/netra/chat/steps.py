"""The durable step journal of one run (``chat_run_steps``), as the pipeline's StepStore.

A step's result is stored after its events, with the seq of its last event, and only while
this worker still holds the run (the same fence as its events). A worker that takes the run
over loads the journal; restoring a step moves the sink past that step's stored events.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from netra.chat.models import Run, RunStep
from netra.chat.repository import RunRepository
from netra.chat.sink import RunSink
from netra.core.db import Database


class StepJournal:
    def __init__(
        self, db: Database, run_id: str, org_id: str, worker_id: str, sink: RunSink
    ) -> None:
        self.db = db
        self.run_id = run_id
        self.org_id = org_id
        self.worker_id = worker_id
        self.sink = sink
        self._steps: dict[str, tuple[int, dict[str, Any]]] = {}
        self.restored: list[str] = []  # steps restored instead of executed (tests, logs)

    async def load(self) -> None:
        run_id, org_id = self.run_id, self.org_id

        async def read(session: AsyncSession) -> dict[str, tuple[int, dict[str, Any]]]:
            stmt = (
                select(RunStep.name, RunStep.seq, RunStep.result)
                .join(Run, Run.id == RunStep.run_id)
                .where(RunStep.run_id == run_id, Run.org_id == org_id)
            )
            return {str(n): (int(q), dict(r)) for n, q, r in (await session.execute(stmt)).all()}

        self._steps = await self.db.run(read)

    async def done(self, name: str) -> dict[str, Any] | None:
        found = self._steps.get(name)
        if found is None:
            return None
        seq, result = found
        self.sink.skip_through(seq)
        self.restored.append(name)
        return result

    async def peek(self, name: str) -> dict[str, Any] | None:
        found = self._steps.get(name)
        return None if found is None else found[1]

    async def record(self, name: str, result: dict[str, Any]) -> None:
        await self.sink.flush()  # the step's events are stored before the step is
        seq = self.sink.last_seq
        run_id, org_id, worker = self.run_id, self.org_id, self.worker_id

        async def write(session: AsyncSession) -> bool:
            # The heartbeat's conditional update is the fence (and locks the run row).
            if not await RunRepository(session, org_id).heartbeat(run_id, worker):
                return False
            if await session.get(RunStep, (run_id, name)) is None:
                session.add(RunStep(run_id=run_id, name=name, seq=seq, result=result))
            return True

        if await self.db.run(write):
            self._steps[name] = (seq, result)
        else:
            self.sink.lost = True  # taken over: this worker must stop writing
