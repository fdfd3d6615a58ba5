"""The ``netra`` command line (Typer). Exit codes: 0 success, 1 the work failed, 2 bad usage."""

from __future__ import annotations

import asyncio
import sys
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer

from netra.core.settings import Settings, load_settings, resolve_dev_secrets, validate_settings

if TYPE_CHECKING:
    from fastapi import FastAPI

app = typer.Typer(
    name="netra",
    help="Netra: find the waste in your LLM API spend.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)

SOURCE_HELP = (
    "auto (recognise), netra, openai-usage, anthropic-usage, litellm, langfuse, helicone, "
    "openrouter"
)
HostOpt = Annotated[str | None, typer.Option("--host", help="Interface to listen on.")]
PortOpt = Annotated[int | None, typer.Option("--port", help="Port to listen on.")]


def _settings(host: str | None = None, port: int | None = None, **extra: object) -> Settings:
    overrides: dict[str, object] = {k: v for k, v in extra.items() if v is not None}
    if host is not None:
        overrides["host"] = host
    if port is not None:
        overrides["port"] = port
    try:
        return load_settings(**overrides)
    except Exception as exc:  # pydantic ValidationError: name the setting
        typer.echo(f"error: invalid settings: {exc}", err=True)
        raise typer.Exit(2) from exc


def _problems(settings: Settings) -> list[str]:
    """Every setting problem: the environment's safety rules, and a prices file that cannot be
    read (in any environment: analyses would fail on it later)."""
    from netra.pricing.lookup import prices_file_problem

    problems = validate_settings(settings)
    prices = prices_file_problem(settings.prices_file)
    return [*problems, prices] if prices else problems


def _fail_on_config(settings: Settings) -> None:
    problems = _problems(settings)
    if problems:
        typer.echo(f"error: configuration is not safe for {settings.env}:", err=True)
        for problem in problems:
            typer.echo(f"  {problem}", err=True)
        raise typer.Exit(2)


def _serve(factory: Callable[[Settings], FastAPI], settings: Settings) -> None:
    import uvicorn

    from netra.core.gc_tuning import tune_for_server
    from netra.core.observability import configure_logging

    _fail_on_config(settings)
    configure_logging(settings.log_level)
    app = factory(settings)  # built here so command-line options reach the app's settings
    tune_for_server(settings.gc_full_threshold)
    uvicorn.run(
        app,
        host=settings.host,
        port=settings.port,
        log_level=settings.log_level.lower(),
        ws_max_size=settings.ws_max_message_bytes,
        ws_per_message_deflate=False,
        # X-Forwarded-For/-Proto only from the configured proxies (never from anyone local).
        proxy_headers=bool(settings.trusted_proxies),
        forwarded_allow_ips=settings.trusted_proxies or None,
        timeout_graceful_shutdown=10,
    )


@app.command()
def serve(
    host: HostOpt = None,
    port: PortOpt = None,
    demo: Annotated[
        bool, typer.Option("--demo", help="Load a demo organisation with data.")
    ] = False,
) -> None:
    """Run the whole platform in one process (auth, API, workers, web UI)."""
    settings = _settings(host, port, demo=demo or None)
    typer.echo(f"Netra on http://{settings.host}:{settings.port}  (env {settings.env})")
    from netra.apps.all_in_one import create_app

    _serve(create_app, settings)


@app.command()
def api(host: HostOpt = None, port: PortOpt = None) -> None:
    """Run the backend (REST + WebSocket) as its own process."""
    from netra.apps.api import create_app

    _serve(create_app, _settings(host, port))


@app.command("auth-service")
def auth_service(host: HostOpt = None, port: PortOpt = None) -> None:
    """Run the auth service as its own process."""
    from netra.apps.auth_service import create_app

    _serve(create_app, _settings(host, port))


@app.command()
def worker(host: HostOpt = None, port: PortOpt = None) -> None:
    """Run an agent worker (serves /health and /metrics on its port)."""
    from netra.apps.worker import create_app

    _serve(create_app, _settings(host, port))


@app.command()
def migrate() -> None:
    """Apply database migrations to NETRA_DATABASE_URL (or the embedded SQLite file)."""
    from netra.core.db import Database
    from netra.core.migrate import current_revision, upgrade

    settings = _settings()

    async def run() -> str | None:
        db = Database(settings)
        try:
            await upgrade(db.engine)
            return await current_revision(db.engine)
        finally:
            await db.close()

    try:
        revision = asyncio.run(run())
    except Exception as exc:
        typer.echo(f"error: migration failed: {type(exc).__name__}: {exc}", err=True)
        raise typer.Exit(1) from exc
    typer.echo(f"database at revision {revision}")


@app.command("check-config")
def check_config() -> None:
    """Validate the settings for the current environment; list every problem at once."""
    settings = _settings()
    problems = _problems(settings)
    if problems:
        typer.echo(f"{len(problems)} problem(s) with the {settings.env} configuration:")
        for problem in problems:
            typer.echo(problem)
        raise typer.Exit(2)
    if settings.is_dev:
        resolve_dev_secrets(settings)
    typer.echo(f"configuration is sound for {settings.env}")


@app.command()
def analyze(
    files: Annotated[
        list[Path], typer.Argument(help="Usage files of any source (CSV, JSON Lines, JSON).")
    ],
    fmt: Annotated[str, typer.Option("--format", help="table, json or html")] = "table",
    out: Annotated[Path | None, typer.Option("--out", help="Write the report here.")] = None,
    source: Annotated[str, typer.Option("--source", help=SOURCE_HELP)] = "auto",
) -> None:
    """Analyse usage files locally and print the report."""
    from netra.reports.cli import analyze_command

    raise typer.Exit(analyze_command(files, fmt, out, source))


@app.command()
def upload(
    files: Annotated[list[Path], typer.Argument(help="Usage files of any source.")],
    url: Annotated[str, typer.Option("--url", help="The Netra server, e.g. http://host:8000")],
    source: Annotated[str, typer.Option("--source", help=SOURCE_HELP)] = "auto",
) -> None:
    """Stream usage files to a running Netra (key from NETRA_API_KEY)."""
    from netra.usage.sources import SOURCE_NAMES
    from netra.usage.upload_cli import upload_command

    if source not in SOURCE_NAMES:
        typer.echo(
            f"error: --source {source!r}: expected one of {', '.join(SOURCE_NAMES)}", err=True
        )
        raise typer.Exit(2)
    settings = _settings()
    key = settings.api_key.get_secret_value() if settings.api_key else None
    raise typer.Exit(upload_command(files, url, source, key))


@app.command("demo-data")
def demo_data(
    records: Annotated[int, typer.Option("--records", min=1)] = 10_000,
    seed: Annotated[int, typer.Option("--seed")] = 1,
    out: Annotated[Path, typer.Option("--out")] = Path("demo-usage.csv"),
) -> None:
    """Write a realistic synthetic workload with labelled waste (FILE and FILE.labels.json)."""
    from netra.demo.cli import demo_data_command

    raise typer.Exit(demo_data_command(records, seed, out))


def main() -> None:  # pragma: no cover
    sys.exit(app())
