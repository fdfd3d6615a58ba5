"""The governance domain's background job: retention (rows past their days deleted hourly).
Registered in the task list of the apps that serve the API (``netra api``, ``netra serve``)."""

from __future__ import annotations

from netra.core.component import Component
from netra.core.periodic import PeriodicPurge
from netra.core.runtime import Runtime
from netra.core.services import Service
from netra.governance.retention import purge_once

RETENTION: Service[PeriodicPurge] = Service("retention_job")


async def _start(runtime: Runtime) -> None:
    job = PeriodicPurge(
        "retention",
        runtime.settings.retention_interval_s,
        lambda: purge_once(runtime.db, runtime.settings),
    )
    job.start()
    runtime.services.provide(RETENTION, job)


async def _stop(runtime: Runtime) -> None:
    job = runtime.services.pop(RETENTION)
    if job is not None:
        await job.stop()


def retention() -> Component:
    return Component("retention", start=_start, stop=_stop, provides=(RETENTION,))
