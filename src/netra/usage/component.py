"""The usage component: its routers, and the services it lends other components."""

from __future__ import annotations

from netra.agents.contract import RECORD_LOADER, REPORT_STORE
from netra.apps.component import Component
from netra.core.runtime import Runtime


async def _register(runtime: Runtime) -> None:
    from netra.usage.loader import record_loader, report_store
    from netra.usage.service import analysis_cache

    runtime.extras[RECORD_LOADER] = record_loader(runtime)
    runtime.extras[REPORT_STORE] = report_store(runtime)
    analysis_cache(runtime)


def component() -> Component:
    """Ingest, summary and analyses endpoints, plus the services below."""
    from netra.usage.router import router

    return Component("usage", routers=[router], start=_register)


def services_component() -> Component:
    """The record loader and report store only (the worker process serves no usage routes)."""
    return Component("usage-services", start=_register)
