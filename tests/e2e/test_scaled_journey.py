"""The README's scaled-out deployment, for real: `netra auth-service` signs with its own Ed25519
key, `netra api` verifies through the auth service's JWKS (and checks it agrees at start-up),
`netra worker` runs the real agent pipeline; PostgreSQL and Redis between them.

A user signs up at the auth service, uploads usage to the API, asks over the WebSocket, and gets
an answer whose report is readable from the API; a logout at the auth service then ends the
API's access.
"""

from __future__ import annotations

import asyncio
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from support.accounts import bearer, signup_sync
from support.realtime import Client
from support.servers import ServerProcess, server
from support.services import fresh_postgres_database, new_redis_prefix, redis_server_url


@pytest.fixture(scope="module")
def stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, ServerProcess]]:
    with fresh_postgres_database() as pg_url:
        shared = {
            "NETRA_DATABASE_URL": pg_url,
            "NETRA_REDIS_URL": redis_server_url(),
            "NETRA_REDIS_PREFIX": new_redis_prefix(),
        }
        # Each process its own data directory: nothing is shared through files.
        auth_env = {**shared, "NETRA_DATA_DIR": str(tmp_path_factory.mktemp("auth"))}
        with server("auth-service", auth_env) as auth:
            verify = {
                **shared,
                "NETRA_JWT_JWKS_URL": f"{auth.url}/auth/.well-known/jwks.json",
                "NETRA_AUTH_SERVICE_URL": auth.url,
            }
            api_env = {**verify, "NETRA_DATA_DIR": str(tmp_path_factory.mktemp("api"))}
            worker_env = {**verify, "NETRA_DATA_DIR": str(tmp_path_factory.mktemp("worker"))}
            with server("api", api_env) as api, server("worker", worker_env) as worker:
                yield {"auth": auth, "api": api, "worker": worker}


def test_sign_up_upload_ask_across_processes(
    stack: dict[str, ServerProcess], tmp_path: Path
) -> None:
    auth, api = stack["auth"], stack["api"]
    assert "Ed25519" in httpx.get(f"{auth.url}/auth/.well-known/jwks.json").text
    account = signup_sync(auth.url)
    token = account["access_token"]
    usage = tmp_path / "usage.csv"
    subprocess.run(
        [sys.executable, "-m", "netra", "demo-data", "--records", "3000", "--seed", "5",
         "--out", str(usage)],
        check=True, capture_output=True, timeout=120,
    )  # fmt: skip
    with usage.open("rb") as handle:
        uploaded = httpx.post(
            f"{api.url}/api/v1/usage/upload",
            files={"file": ("usage.csv", handle, "text/csv")},
            headers=bearer(token),
            timeout=60,
        )
    assert uploaded.status_code == 200, uploaded.text
    assert uploaded.json()["accepted"] == 3000

    async def ask() -> list[dict]:  # type: ignore[type-arg]
        client = await Client.connect(api.ws_url, token)
        try:
            ack = await client.ask("where is my money going and how do I cut it?")
            return await client.events_until_final(ack["run_id"], wait_s=60)
        finally:
            await client.close()

    events = asyncio.run(ask())
    agents = {e["payload"]["agent"] for e in events}
    assert agents == {"supervisor", "triage", "data", "optimizer", "actions", "reporting"}
    final = events[-1]["payload"]
    assert final["status"] == "succeeded", final
    report = httpx.get(
        f"{api.url}/api/v1/analyses/{final['result']['report_id']}", headers=bearer(token)
    )
    assert report.status_code == 200 and report.json()["records"] == 3000
    assert report.json()["findings"], "the demo workload has waste to find"

    # Logout at the auth service: the API refuses the same token from then on.
    assert httpx.post(f"{auth.url}/auth/logout", headers=bearer(token)).status_code == 204
    assert httpx.get(f"{api.url}/api/v1/threads", headers=bearer(token)).status_code == 401


def test_api_refuses_to_start_with_another_issuer(
    stack: dict[str, ServerProcess], tmp_path: Path
) -> None:
    auth = stack["auth"]
    env = {
        "NETRA_DATABASE_URL": "sqlite+aiosqlite:///" + str(tmp_path / "x.db"),
        "NETRA_DATA_DIR": str(tmp_path),
        "NETRA_JWT_JWKS_URL": f"{auth.url}/auth/.well-known/jwks.json",
        "NETRA_AUTH_SERVICE_URL": auth.url,
        "NETRA_JWT_ISSUER": "someone-else",
    }
    with pytest.raises(RuntimeError, match="NETRA_JWT_ISSUER"):
        with server("api", env, ready_timeout_s=20):
            pass
