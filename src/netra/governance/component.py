"""The governance component: its routes and the retention job."""

from __future__ import annotations

from netra.core.component import Component
from netra.core.runtime import Runtime
from netra.governance.retention import RetentionJob
from netra.governance.router import router

RETENTION = "retention_job"


async def _start(runtime: Runtime) -> None:
    job = RetentionJob(runtime.db, runtime.settings)
    job.start()
    runtime.extras[RETENTION] = job


async def _stop(runtime: Runtime) -> None:
    job = runtime.extras.pop(RETENTION, None)
    if isinstance(job, RetentionJob):
        await job.stop()


def component() -> Component:
    return Component("governance", routers=[router], start=_start, stop=_stop)
