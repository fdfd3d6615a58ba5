"""The chat domain's background jobs: the run worker (agent runs taken from the queue, their
events written by one batching writer). Registered in the task list of ``netra serve`` (when
workers are embedded) and ``netra worker``."""

from __future__ import annotations

from netra.agents.contract import PIPELINE, RECORD_LOADER, REPORT_STORE
from netra.billing.webhooks import deliver_via
from netra.chat.event_writer import EventWriter
from netra.chat.worker import RunWorker
from netra.core.component import Component
from netra.core.runtime import Runtime
from netra.core.services import Service

WRITER: Service[EventWriter] = Service("chat_event_writer")
WORKER: Service[RunWorker] = Service("chat_run_worker")


async def _start(runtime: Runtime) -> None:
    writer = EventWriter(
        runtime.db,
        runtime.bus,
        runtime.metrics,
        runtime.settings.run_event_batch_max,
        deliver=deliver_via(runtime),
    )
    await writer.start()
    worker = RunWorker(runtime, writer)
    await worker.start()
    runtime.services.provide(WRITER, writer)
    runtime.services.provide(WORKER, worker)


async def _stop(runtime: Runtime) -> None:
    worker = runtime.services.pop(WORKER)
    if worker is not None:
        await worker.stop()
    writer = runtime.services.pop(WRITER)
    if writer is not None:
        await writer.stop()


def run_worker() -> Component:
    """The pipeline and what it is lent come from components listed before the tasks."""
    return Component(
        "worker",
        start=_start,
        stop=_stop,
        provides=(WRITER, WORKER),
        needs=(PIPELINE, RECORD_LOADER, REPORT_STORE),
    )
