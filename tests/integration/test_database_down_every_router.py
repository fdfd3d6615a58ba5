"""A database outage answers 503 in the error shape on EVERY router of the app, through the one
handler of ``core/http_errors.py``, never a 500 (issue 16, item 3).

The outage is real: the session's PostgreSQL database is renamed away with every connection cut.
The test also fails when a router appears without a probe here, so a new router cannot skip it.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Iterator
from pathlib import Path
from typing import Any

import httpx
from fastapi.routing import APIRoute

from netra.apps.all_in_one import create_app
from netra.auth.oauth_flow import BIND_COOKIE, issue_login_code
from netra.core.settings import Settings
from support.accounts import bearer, signup
from support.apps import running_app
from support.services import fresh_postgres_database, rename_database

# Routes with no database behind them: liveness/readiness (readiness has its own 503), metrics,
# the static web UI, the auth service's key and configuration documents.
NO_DATABASE = {"netra.apps.factory", "netra.web.component"}
NO_DATABASE_PATHS = {"/auth/.well-known/jwks.json", "/auth/.well-known/netra-configuration"}


def _api_routes(routes: Any) -> Iterator[APIRoute]:
    for route in routes:
        if isinstance(route, APIRoute):
            yield route
        elif hasattr(route, "original_router"):  # FastAPI's included router (0.165+)
            yield from _api_routes(route.original_router.routes)


def _router_modules(app: Any) -> set[str]:
    return {
        route.endpoint.__module__
        for route in _api_routes(app.routes)
        if route.endpoint.__module__ not in NO_DATABASE and route.path not in NO_DATABASE_PATHS
    }


async def test_every_router_answers_503_in_the_error_shape(
    tmp_path: Path, redis_url: str, redis_prefix: str
) -> None:
    with fresh_postgres_database() as url:
        name = url.rsplit("/", 1)[1]
        settings = Settings(
            env="test", data_dir=tmp_path / "netra", database_url=url, redis_url=redis_url,
            redis_prefix=redis_prefix, db_connect_retries=1, db_pool_timeout_s=2,
            embedded_workers=False,
        )  # fmt: skip
        app = create_app(settings)
        async with running_app(app) as client:
            account = await signup(client)
            who = bearer(account["access_token"])
            user = account["user"]
            runtime = app.state.runtime
            code, binding = await issue_login_code(runtime.cache, user["id"], user["org_id"])
            client.cookies.set(BIND_COOKIE, binding, path="/auth/oauth")
            row = {"timestamp": "2026-10-01T00:00:00Z", "provider": "openai", "model": "gpt-4o",
                   "input_tokens": 1, "output_tokens": 1}  # fmt: skip
            login = {"email": account["email"], "password": "not the password"}
            made = await client.post(
                "/api/v1/api-keys", json={"name": "otlp", "scopes": ["usage:write"]}, headers=who
            )
            key = bearer(made.json()["key"]) | {"Content-Type": "application/json"}
            # One endpoint per router module (the module that holds the endpoint).
            probes: dict[str, Callable[[], Awaitable[httpx.Response]]] = {
                "netra.auth.router": lambda: client.post("/auth/login", json=login),
                "netra.auth.oauth_router": lambda: client.post(
                    "/auth/oauth/exchange", json={"code": code}
                ),
                "netra.usage.router": lambda: client.post(
                    "/api/v1/usage", json={"records": [row]}, headers=who
                ),
                "netra.reports.router": lambda: client.get("/api/v1/usage/summary", headers=who),
                "netra.chat.router": lambda: client.get("/api/v1/threads", headers=who),
                "netra.chat.assistant_usage": lambda: client.get(
                    "/api/v1/assistant/usage", headers=who
                ),
                "netra.billing.router": lambda: client.get("/api/v1/webhooks", headers=who),
                "netra.auth.api_keys_router": lambda: client.get("/api/v1/api-keys", headers=who),
                "netra.governance.router": lambda: client.get("/api/v1/members", headers=who),
                "netra.auth.password_routes": lambda: client.post(
                    "/auth/password/reset/confirm",
                    json={"token": "t" * 43, "new_password": "Another-Long-Passphrase-77"},
                ),
                "netra.usage.otlp_router": lambda: client.post(
                    "/v1/traces", content=b'{"resourceSpans": []}', headers=key
                ),
            }
            assert set(probes) >= _router_modules(app), "a router without a probe here"

            await rename_database(name, name + "_away")
            try:
                for module, call in probes.items():
                    response = await call()
                    assert response.status_code == 503, (module, response.text)
                    error = response.json()["error"]
                    assert error["code"] == "dependency_unavailable", module
                    assert error["message"], module
            finally:
                await rename_database(name + "_away", name)

            # Back without a restart.
            again = await client.get("/api/v1/webhooks", headers=who)
            assert again.status_code == 200, again.text
