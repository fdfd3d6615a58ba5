"""``netra api``: the backend (REST and WebSocket); verifies tokens, never issues them."""

from __future__ import annotations

from fastapi import FastAPI

from netra.apps.factory import create_netra_app
from netra.auth.component import api_keys_component, verification_component
from netra.billing import component as billing
from netra.billing import tasks as billing_tasks
from netra.chat import component as chat
from netra.core.settings import Settings, load_settings
from netra.governance import component as governance
from netra.governance import tasks as governance_tasks
from netra.reports import component as reports
from netra.usage import component as usage
from netra.web import component as web


def create_app(settings: Settings | None = None) -> FastAPI:
    settings = settings or load_settings()
    return create_netra_app(
        settings,
        [
            verification_component(),
            api_keys_component(),
            usage.component(),
            reports.component(),
            chat.component(),
            billing.component(),
            governance.component(),
            web.component(),
        ],
        # The background jobs of this app, each declared in its domain's tasks.py.
        tasks=[billing_tasks.webhook_delivery(), governance_tasks.retention()],
        title="Netra API",
    )
