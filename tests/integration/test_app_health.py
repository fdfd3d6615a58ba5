"""I10 / I7: readiness reflects PostgreSQL and Redis for real; metrics move with traffic."""

from __future__ import annotations

from netra.apps.api import create_app
from support.apps import running_app


async def test_ready_on_postgres_and_redis(pg_settings) -> None:  # type: ignore[no-untyped-def]
    async with running_app(create_app(pg_settings())) as client:
        response = await client.get("/health/ready")
        assert response.status_code == 200, response.text
        deps = response.json()["dependencies"]
        assert deps["database"]["status"] == "up" and "postgresql" in deps["database"]["target"]
        assert deps["redis"]["status"] == "up"
        before = (await client.get("/metrics")).text
        await client.get("/health/live")
        after = (await client.get("/metrics")).text
        line = 'netra_http_requests_total{method="GET",route="/health/live",status="200"}'
        assert line not in before and f"{line} 1.0" in after


async def test_unreachable_database_gives_503_not_500(pg_settings) -> None:  # type: ignore[no-untyped-def]
    app = create_app(pg_settings())
    async with running_app(app) as client:
        runtime = app.state.runtime
        await runtime.db.engine.dispose()
        good_url = runtime.db.engine.url
        # Point the engine at a port where nothing listens: the dependency fails for real.
        from sqlalchemy.ext.asyncio import create_async_engine

        runtime.db.engine = create_async_engine(good_url.set(port=1), connect_args={"timeout": 1})
        response = await client.get("/health/ready")
        assert response.status_code == 503
        assert response.json()["dependencies"]["database"]["status"] == "down"
        await runtime.db.engine.dispose()
        runtime.db.engine = create_async_engine(good_url)
        assert (await client.get("/health/ready")).status_code == 200
