"""``netra worker``: executes agent runs from the queue; serves only health and metrics."""

from __future__ import annotations

from fastapi import FastAPI

from netra.agents import component as agents
from netra.apps.factory import create_netra_app
from netra.billing.component import delivery_component
from netra.chat.component import worker_component
from netra.core.settings import Settings, load_settings
from netra.reports import component as reports


def create_app(settings: Settings | None = None) -> FastAPI:
    settings = settings or load_settings()
    # The usage services (record loader, report store), webhook delivery and the pipeline
    # start before the worker that uses them.
    components = [
        reports.services_component(),
        delivery_component(),
        agents.component(),
        worker_component(),
    ]
    return create_netra_app(settings, components, title="Netra worker")
