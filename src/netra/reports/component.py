"""The reports component: the summary and analyses endpoints, and the services it lends other
components (the record loader and report store of the agent pipeline, the analysis cache)."""

from __future__ import annotations

from netra.agents.contract import RECORD_LOADER, REPORT_STORE
from netra.auth.deps import VERIFIER
from netra.core.component import Component
from netra.core.runtime import Runtime
from netra.reports.cache import ANALYSIS_CACHE

PROVIDES = (RECORD_LOADER, REPORT_STORE, ANALYSIS_CACHE)


async def _register(runtime: Runtime) -> None:
    from netra.reports.loader import record_loader, report_store
    from netra.reports.service import analysis_cache

    runtime.services.provide(RECORD_LOADER, record_loader(runtime))
    runtime.services.provide(REPORT_STORE, report_store(runtime))
    analysis_cache(runtime)


def component() -> Component:
    """Summary and analyses endpoints, plus the services below."""
    from netra.reports.router import router

    return Component(
        "reports", routers=[router], start=_register, provides=PROVIDES, needs=(VERIFIER,)
    )


def services_component() -> Component:
    """The record loader and report store only (the worker process serves no report routes)."""
    return Component("reports-services", start=_register, provides=PROVIDES)
