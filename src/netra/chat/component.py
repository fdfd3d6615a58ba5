"""The chat components: the API side (REST routes, ``/ws``, the connection hub) and workers."""

from __future__ import annotations

from netra.core.component import Component
from netra.core.runtime import Runtime

WRITER = "chat_event_writer"
WORKER = "chat_run_worker"


async def _start_hub(runtime: Runtime) -> None:
    from netra.chat.hub import HUB, ConnectionHub

    hub = ConnectionHub(runtime)
    await hub.start()
    runtime.extras[HUB] = hub


async def _stop_hub(runtime: Runtime) -> None:
    from netra.chat.hub import HUB, ConnectionHub

    hub = runtime.extras.pop(HUB, None)
    if isinstance(hub, ConnectionHub):
        await hub.stop()


def component() -> Component:
    from netra.chat.assistant_usage import router as assistant_router
    from netra.chat.router import router
    from netra.chat.ws import router as ws_router

    return Component(
        "chat", routers=[router, assistant_router, ws_router], start=_start_hub, stop=_stop_hub
    )


async def _start_worker(runtime: Runtime) -> None:
    from netra.billing.webhooks import deliver_via
    from netra.chat.event_writer import EventWriter
    from netra.chat.worker import RunWorker

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
    runtime.extras[WRITER] = writer
    runtime.extras[WORKER] = worker


async def _stop_worker(runtime: Runtime) -> None:
    from netra.chat.event_writer import EventWriter
    from netra.chat.worker import RunWorker

    worker = runtime.extras.pop(WORKER, None)
    if isinstance(worker, RunWorker):
        await worker.stop()
    writer = runtime.extras.pop(WRITER, None)
    if isinstance(writer, EventWriter):
        await writer.stop()


def worker_component() -> Component:
    """Runs agent runs taken from the queue (embedded in ``netra serve`` or ``netra worker``)."""
    return Component("worker", start=_start_worker, stop=_stop_worker)
