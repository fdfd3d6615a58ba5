"""The usage component: the ingest endpoints (uploads, JSON, OTLP traces)."""

from __future__ import annotations

from netra.auth.deps import VERIFIER
from netra.core.component import Component


def component() -> Component:
    """Ingest endpoints."""
    from netra.usage.otlp_router import router as otlp_router
    from netra.usage.router import router

    return Component("usage", routers=[router, otlp_router], needs=(VERIFIER,))
