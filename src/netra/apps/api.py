"""``netra api``: the backend (REST and WebSocket); verifies tokens, never issues them."""

from __future__ import annotations

from fastapi import FastAPI

from netra.apps.factory import create_netra_app
from netra.auth.component import api_keys_component, verification_component
from netra.billing import component as billing
from netra.chat import component as chat
from netra.core.settings import Settings, load_settings
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
            web.component(),
        ],
        title="Netra API",
    )
