"""``netra worker``: executes agent runs from the queue; serves only health and metrics."""

from __future__ import annotations

from fastapi import FastAPI

from netra.agents import component as agents
from netra.apps.factory import create_netra_app
from netra.billing import tasks as billing_tasks
from netra.chat import tasks as chat_tasks
from netra.core.settings import Settings, load_settings
from netra.reports import component as reports


def create_app(settings: Settings | None = None) -> FastAPI:
    settings = settings or load_settings()
    # The usage services (record loader, report store) and the pipeline the worker uses.
    components = [reports.services_component(), agents.component()]
    # The background jobs of this app, each declared in its domain's tasks.py.
    tasks = [billing_tasks.webhook_delivery(), chat_tasks.run_worker()]
    return create_netra_app(settings, components, tasks=tasks, title="Netra worker")
