"""The governance component: members, invitations, the audit log, export and deletion routes
(the retention job is in ``tasks.py``)."""

from __future__ import annotations

from netra.auth.deps import VERIFIER
from netra.core.component import Component
from netra.governance.router import router


def component() -> Component:
    return Component("governance", routers=[router], needs=(VERIFIER,))
