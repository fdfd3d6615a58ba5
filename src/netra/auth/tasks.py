"""The auth domain's background jobs: housekeeping (expired revocations, refresh tokens and
sign-in sessions deleted hourly). Registered in the task list of the app that runs the auth
service."""

from __future__ import annotations

from netra.auth.housekeeping import purge_expired
from netra.core.component import Component
from netra.core.periodic import PeriodicPurge
from netra.core.runtime import Runtime
from netra.core.services import Service

HOUSEKEEPER: Service[PeriodicPurge] = Service("auth_housekeeper")


async def _start(runtime: Runtime) -> None:
    housekeeper = PeriodicPurge(
        "auth-housekeeping",
        runtime.settings.auth_housekeeping_interval_s,
        lambda: purge_expired(runtime.db),
    )
    housekeeper.start()
    runtime.services.provide(HOUSEKEEPER, housekeeper)


async def _stop(runtime: Runtime) -> None:
    housekeeper = runtime.services.pop(HOUSEKEEPER)
    if housekeeper is not None:
        await housekeeper.stop()


def housekeeping() -> Component:
    return Component("auth-housekeeping", start=_start, stop=_stop, provides=(HOUSEKEEPER,))
