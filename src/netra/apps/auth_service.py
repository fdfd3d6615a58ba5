"""``netra auth-service``: accounts, tokens, OAuth, introspection."""

from __future__ import annotations

from fastapi import FastAPI

from netra.apps.factory import create_netra_app
from netra.auth import tasks as auth_tasks
from netra.auth.component import auth_service_component
from netra.core.settings import Settings, load_settings


def create_app(settings: Settings | None = None) -> FastAPI:
    settings = settings or load_settings()
    return create_netra_app(
        settings,
        [auth_service_component()],
        tasks=[auth_tasks.housekeeping()],  # this app's background jobs (auth/tasks.py)
        title="Netra auth service",
    )
