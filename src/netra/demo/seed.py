"""``netra serve --demo``: a demo organisation with a realistic workload, and its sign-in.

Development only. The demo user's password is generated once and kept in the data directory,
so a restart prints the same sign-in; the workload's request ids make re-loading idempotent.
"""

from __future__ import annotations

import secrets
from pathlib import Path

import structlog

from netra.auth.service import create_account, find_user_by_email
from netra.core.component import Component
from netra.core.db import utcnow
from netra.core.errors import ConfigurationError
from netra.core.runtime import Runtime
from netra.demo import workload as demo_data
from netra.usage.ingest import BatchWriter, IngestResult, ingest_records
from netra.usage.parse import iter_csv

log = structlog.get_logger("netra.demo")

DEMO_EMAIL = "demo@netra.example"
DEMO_RECORDS = 20_000
DEMO_SEED = 2026


def _password(data_dir: Path) -> str:
    path = data_dir / "demo-password"
    if not path.exists():
        data_dir.mkdir(parents=True, exist_ok=True)
        path.write_text(secrets.token_urlsafe(12))
        path.chmod(0o600)
    return path.read_text().strip()


async def load_demo(runtime: Runtime) -> tuple[str, str, int]:
    """Create the demo account (once) and load its usage; returns (email, password, stored)."""
    settings = runtime.settings
    if not settings.is_dev:
        raise ConfigurationError(["--demo is for development only (NETRA_ENV=development)"])
    password = _password(settings.data_dir)
    async with runtime.db.unit_of_work() as session:
        user = await find_user_by_email(session, DEMO_EMAIL)
        if user is None:
            user, _org = await create_account(
                session,
                email=DEMO_EMAIL,
                password=password,
                name="Demo User",
                org_name="Demo Co",
                tier="mid",
            )
        org_id = user.org_id
    usage_file = settings.data_dir / "demo-usage.csv"
    if not usage_file.exists():
        frame, labels = demo_data.generate(DEMO_RECORDS, DEMO_SEED)
        frame, labels = demo_data.moved_to_recent(frame, labels, utcnow())
        demo_data.write(frame, labels, usage_file)
    result = IngestResult()
    async with BatchWriter(runtime.db, org_id, result, metrics=runtime.metrics) as writer:
        with usage_file.open(newline="") as handle:
            await ingest_records(iter_csv(handle, source=usage_file.name), writer, 5000)
    return DEMO_EMAIL, password, result.accepted


def demo_component() -> Component:
    async def start(runtime: Runtime) -> None:
        email, password, stored = await load_demo(runtime)
        url = f"http://{runtime.settings.host}:{runtime.settings.port}"
        print(  # the one thing a person starting the demo needs to see
            f"\n  Netra demo is ready at {url}\n  Sign in as {email} / {password}"
            f"\n  ({stored} new usage records loaded for 'Demo Co')\n",
            flush=True,
        )
        log.info("demo loaded", email=email, new_records=stored)

    return Component("demo", start=start)
