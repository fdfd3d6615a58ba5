"""``netra serve``: auth service, backend, workers and web UI in one process.

Embedded defaults (SQLite file, in-process cache, bus and queue), or PostgreSQL and Redis when
the settings name them. Migrations are applied at start-up.
"""

from __future__ import annotations

from fastapi import FastAPI

from netra.agents import component as agents
from netra.apps.factory import create_netra_app
from netra.auth import tasks as auth_tasks
from netra.auth.component import api_keys_component, auth_service_component
from netra.billing import component as billing
from netra.billing import tasks as billing_tasks
from netra.chat import component as chat
from netra.chat import tasks as chat_tasks
from netra.core.component import Component
from netra.core.settings import Settings, load_settings
from netra.demo.seed import demo_component
from netra.governance import component as governance
from netra.governance import tasks as governance_tasks
from netra.reports import component as reports
from netra.usage import component as usage
from netra.web import component as web


def create_app(settings: Settings | None = None) -> FastAPI:
    settings = settings or load_settings()
    components: list[Component] = [
        auth_service_component(),
        api_keys_component(),
        usage.component(),
        reports.component(),
        chat.component(),
        billing.component(),
        governance.component(),
        agents.component(),
    ]
    if settings.demo:
        components.append(demo_component())
    components.append(web.component())
    # The background jobs of this app, each declared in its domain's tasks.py.
    tasks = [
        auth_tasks.housekeeping(),
        billing_tasks.webhook_delivery(),
        governance_tasks.retention(),
    ]
    if settings.embedded_workers:
        tasks.append(chat_tasks.run_worker())
    return create_netra_app(settings, components, tasks=tasks, title="Netra", migrate=True)
