"""The chat component: the API side (REST routes, ``/ws``, the connection hub). The run worker
is a background job: ``chat/tasks.py``."""

from __future__ import annotations

from netra.auth.deps import VERIFIER
from netra.chat.hub import HUB, ConnectionHub
from netra.core.component import Component
from netra.core.runtime import Runtime


async def _start_hub(runtime: Runtime) -> None:
    hub = ConnectionHub(runtime)
    await hub.start()
    runtime.services.provide(HUB, hub)


async def _stop_hub(runtime: Runtime) -> None:
    hub = runtime.services.pop(HUB)
    if hub is not None:
        await hub.stop()


def component() -> Component:
    from netra.chat.assistant_usage import router as assistant_router
    from netra.chat.router import router
    from netra.chat.ws_router import router as ws_router

    return Component(
        "chat",
        routers=[router, assistant_router, ws_router],
        start=_start_hub,
        stop=_stop_hub,
        provides=(HUB,),
        needs=(VERIFIER,),
    )
