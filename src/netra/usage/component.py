"""The usage component: the ingest endpoints."""

from __future__ import annotations

from netra.auth.deps import VERIFIER
from netra.core.component import Component


def component() -> Component:
    """Ingest endpoints."""
    from netra.usage.router import router

    return Component("usage", routers=[router], needs=(VERIFIER,))
