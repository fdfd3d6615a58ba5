"""PostgreSQL unreachable for real: the usage endpoints answer 503 with the error shape, never
500, and recover without a restart once the database is back (area I7 on these endpoints)."""

from __future__ import annotations

from pathlib import Path

from netra.apps.all_in_one import create_app
from netra.core.settings import Settings
from support.accounts import bearer, signup
from support.apps import running_app
from support.services import fresh_postgres_database, rename_database


def record(i: int) -> dict[str, object]:
    return {
        "timestamp": "2026-10-01T00:00:00Z",
        "provider": "openai",
        "model": "gpt-4o",
        "input_tokens": 10,
        "output_tokens": 1,
        "request_id": f"down-{i}",
    }


async def test_database_outage_is_503_and_recovers(
    tmp_path: Path, redis_url: str, redis_prefix: str
) -> None:
    with fresh_postgres_database() as url:
        name = url.rsplit("/", 1)[1]
        settings = Settings(
            env="test",
            data_dir=tmp_path / "netra",
            database_url=url,
            redis_url=redis_url,
            redis_prefix=redis_prefix,
            db_connect_retries=1,
            db_pool_timeout_s=2,
        )
        async with running_app(create_app(settings)) as client:
            who = bearer((await signup(client))["access_token"])
            ok = await client.post("/api/v1/usage", json={"records": [record(1)]}, headers=who)
            assert ok.status_code == 200

            await rename_database(name, name + "_away")
            try:
                calls = [
                    client.post("/api/v1/usage", json={"records": [record(2)]}, headers=who),
                    client.post(
                        "/api/v1/usage/upload",
                        files={"file": ("u.csv", b"timestamp,provider,model,input_tokens,"
                                        b"output_tokens\n2026-10-01T00:00:00Z,a,b,1,1\n")},
                        headers=who,
                    ),
                    client.get("/api/v1/usage/summary", headers=who),
                    client.post("/api/v1/analyses", json={}, headers=who),
                    client.get("/api/v1/analyses/abc", headers=who),
                ]  # fmt: skip
                for response in [await call for call in calls]:
                    assert response.status_code == 503, (response.request.url, response.text)
                    assert response.json()["error"]["code"] == "dependency_unavailable"
            finally:
                await rename_database(name + "_away", name)

            # Back without a restart: the same app stores and counts again.
            again = await client.post(
                "/api/v1/usage", json={"records": [record(1), record(3)]}, headers=who
            )
            assert again.status_code == 200, again.text
            assert (again.json()["accepted"], again.json()["duplicates"]) == (1, 1)
