"""Build a FastAPI app from components, with the lifespan that starts and stops them.

Order at start: the wiring checked (every service a component needs is provided by one before
it), settings checked, runtime dependencies (database, cache, bus, queue), each component in the
order given, then the app's background tasks (each domain's ``tasks.py``). Shutdown runs the
same list in reverse.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable, Sequence
from contextlib import asynccontextmanager
from typing import Any, Literal

import structlog
from fastapi import FastAPI, Request
from fastapi.middleware.cors import CORSMiddleware
from fastapi.responses import JSONResponse, Response
from pydantic import BaseModel, ConfigDict, Field

from netra.apps.sockets_first import SocketsFirstApp
from netra.billing.rate_limits import install_request_limiter
from netra.core.component import Component
from netra.core.errors import ConfigurationError
from netra.core.http_errors import RequestIdMiddleware, error_body, install_error_handlers
from netra.core.lifecycle import Dependency, StartupError
from netra.core.migrate import upgrade
from netra.core.observability import Metrics, MetricsMiddleware, metrics_endpoint
from netra.core.openapi import install_openapi
from netra.core.ratelimit import RateLimitHeaders
from netra.core.runtime import Runtime, build_runtime
from netra.core.services import wiring_problems
from netra.core.settings import Settings, resolve_dev_secrets, validate_settings
from netra.core.web_security import (
    SecurityHeadersMiddleware,
    docs_enabled,
    operator_allowed,
    redact_credentials,
)

log = structlog.get_logger("netra.app")

RuntimeFactory = Callable[[Settings], Runtime]


def create_netra_app(
    settings: Settings,
    components: list[Component],
    *,
    title: str,
    tasks: Sequence[Component] = (),
    migrate: bool = False,
    runtime_factory: RuntimeFactory | None = None,
) -> FastAPI:
    """An app whose dependencies start in its lifespan (nothing is connected before that).

    ``tasks``: the app's background jobs, started after every component (they use their
    services) and stopped first. A service needed and not provided fails here, at start-up.
    """
    components = [*components, *tasks]
    problems = wiring_problems(components)
    if problems:
        raise ConfigurationError(problems)

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        resolved = resolve_dev_secrets(settings)
        problems = validate_settings(resolved)
        if problems:
            raise ConfigurationError(problems)
        runtime = (runtime_factory or build_runtime)(resolved)
        install_request_limiter(runtime)
        if migrate:
            runtime.lifecycle.dependencies.insert(
                1, Dependency("migrations", start=lambda: upgrade(runtime.db.engine))
            )
        for component in components:
            runtime.lifecycle.add(_as_dependency(component, runtime))
        await runtime.start()
        app.state.runtime = runtime
        log.info("started", app=title, env=resolved.env)
        try:
            yield
        finally:
            await runtime.stop()
            log.info("stopped", app=title)

    docs = docs_enabled(settings)
    app = SocketsFirstApp(  # WebSocket handshakes skip the HTTP middlewares
        title=title,
        version="0.1.0",
        lifespan=lifespan,
        docs_url="/docs" if docs else None,
        redoc_url="/redoc" if docs else None,
        openapi_url="/openapi.json" if docs else None,
    )
    redact_credentials()
    install_error_handlers(app)
    app.add_middleware(
        CORSMiddleware,
        allow_origins=settings.origins,
        allow_credentials=True,
        allow_methods=["GET", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"],
        allow_headers=["Authorization", "Content-Type", "X-Request-ID"],
    )
    app.add_middleware(RateLimitHeaders)
    app.add_middleware(MetricsMiddleware, metrics=lambda: _metrics_of(app))
    app.add_middleware(SecurityHeadersMiddleware, settings=settings)
    app.add_middleware(RequestIdMiddleware)  # outermost: every answer and log line has the id
    _add_health_routes(app)
    for component in components:
        for router in component.routers:
            app.include_router(router)
    install_openapi(app)
    return app


def _metrics_of(app: FastAPI) -> Metrics | None:
    runtime = getattr(app.state, "runtime", None)
    return runtime.metrics if runtime is not None else None


def _as_dependency(component: Component, runtime: Runtime) -> Dependency:
    async def start() -> None:
        if component.start is not None:
            await component.start(runtime)
        missing = [s.name for s in component.provides if s not in runtime.services]
        if missing:
            raise StartupError(f"component '{component.name}' did not provide {missing}")

    async def stop() -> None:
        if component.stop is not None:
            await component.stop(runtime)

    return Dependency(component.name, start=start, stop=stop)


class Live(BaseModel):
    status: Literal["ok"]


class DependencyState(BaseModel):
    model_config = ConfigDict(extra="allow")

    required: bool
    status: str = Field(description="up or down")
    error: str | None = None
    target: str | None = None


class Readiness(BaseModel):
    status: Literal["ok", "degraded", "unavailable"]
    dependencies: dict[str, DependencyState]


def _add_health_routes(app: FastAPI) -> None:
    @app.get("/health/live", tags=["health"], response_model=Live)
    async def live() -> dict[str, str]:
        return {"status": "ok"}

    @app.get(
        "/health/ready",
        tags=["health"],
        response_model=Readiness,
        responses={503: {"model": Readiness, "description": "a required dependency is down"}},
    )
    async def ready(request: Request) -> JSONResponse:
        runtime: Runtime = request.app.state.runtime
        ok, states = await runtime.lifecycle.readiness()
        degraded = any(s["status"] != "up" for s in states.values())
        status = "unavailable" if not ok else ("degraded" if degraded else "ok")
        if not operator_allowed(request, runtime.settings):
            # Strangers learn up/down per dependency, never host names or error texts.
            states = {
                name: {"required": s.get("required", True), "status": s["status"]}
                for name, s in states.items()
            }
        body: dict[str, Any] = {"status": status, "dependencies": states}
        return JSONResponse(body, status_code=200 if ok else 503)

    serve_metrics = metrics_endpoint(lambda request: request.app.state.runtime.metrics)

    async def guarded_metrics(request: Request) -> Response:
        settings = request.app.state.runtime.settings
        if not operator_allowed(request, settings):
            if settings.metrics_token is None:
                return JSONResponse(error_body("not_found", "not found"), status_code=404)
            return JSONResponse(
                error_body("unauthenticated", "the metrics token is required"),
                status_code=401,
                headers={"WWW-Authenticate": "Bearer"},
            )
        return await serve_metrics(request)

    app.add_route("/metrics", guarded_metrics, include_in_schema=False)
