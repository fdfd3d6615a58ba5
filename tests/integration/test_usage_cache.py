"""Analysis caching in Redis (area I2): served from Redis, shared by two app instances,
invalidated by new usage, and bypassed (still answering) when Redis is down."""

from __future__ import annotations

import asyncio
import shutil
import subprocess
from contextlib import AsyncExitStack
from typing import Any

import redis.asyncio as aioredis

from netra.apps.all_in_one import create_app
from netra.core.runtime import Runtime
from netra.core.settings import Settings
from netra.reports import service
from support.accounts import bearer, signup
from support.apps import running_app
from support.redis_process import wait_for_redis


def records(tag: str, n: int, day: int = 3) -> dict[str, Any]:
    return {
        "records": [
            {
                "timestamp": f"2026-10-{day:02d}T{i % 24:02d}:00:00Z",
                "provider": "openai",
                "model": "gpt-4o",
                "input_tokens": 2000,
                "output_tokens": 100,
                "feature": "support",
                "request_id": f"{tag}-{i}",
            }
            for i in range(n)
        ]
    }


def counter(metrics_text: str, result: str) -> float:
    for line in metrics_text.splitlines():
        if line.startswith(f'netra_cache_total{{result="{result}"}}'):
            return float(line.split()[-1])
    return 0.0


async def test_reports_are_cached_in_redis_shared_and_invalidated(
    pg_settings, redis_url: str, redis_prefix: str
) -> None:  # type: ignore[no-untyped-def]
    settings: Settings = pg_settings()
    async with AsyncExitStack() as stack:
        one = await stack.enter_async_context(running_app(create_app(settings)))
        two = await stack.enter_async_context(running_app(create_app(settings)))
        who = bearer((await signup(one))["access_token"])
        assert (
            await one.post("/api/v1/usage", json=records("a", 40), headers=who)
        ).status_code == 200

        first = await one.post("/api/v1/analyses", json={}, headers=who)
        assert first.status_code == 201 and first.headers["x-cache"] == "miss"
        assert first.json()["records"] == 40

        # The report is in Redis, under this deployment's prefix.
        client = aioredis.from_url(redis_url)
        stack.push_async_callback(client.aclose)
        keys = [k.decode() async for k in client.scan_iter(match=f"{redis_prefix}analysis:*")]
        assert any(":report:" in k for k in keys), keys

        # The other instance is served from the shared cache: the same stored report (nothing
        # changed, so no second report or webhook event: security review finding 6).
        second = await two.post("/api/v1/analyses", json={}, headers=who)
        assert second.status_code == 201 and second.headers["x-cache"] == "hit"
        strip = lambda body: {k: v for k, v in body.items() if k not in ("id", "created_at")}  # noqa: E731
        assert strip(second.json()) == strip(first.json())
        assert second.json()["id"] == first.json()["id"]
        assert counter((await two.get("/metrics")).text, "hit") >= 1

        # New usage through instance two invalidates what instance one cached.
        await two.post("/api/v1/usage", json=records("b", 10), headers=who)
        third = await one.post("/api/v1/analyses", json={}, headers=who)
        assert third.headers["x-cache"] == "miss" and third.json()["records"] == 50

        # A pure duplicate is not new usage: the cache stays valid.
        await one.post("/api/v1/usage", json=records("b", 10), headers=who)
        fourth = await two.post("/api/v1/analyses", json={}, headers=who)
        assert fourth.headers["x-cache"] == "hit" and fourth.json()["records"] == 50

        # Summaries are cached the same way, per group and period.
        s1 = await one.get("/api/v1/usage/summary?group_by=feature", headers=who)
        s2 = await two.get("/api/v1/usage/summary?group_by=feature", headers=who)
        assert (s1.headers["x-cache"], s2.headers["x-cache"]) == ("miss", "hit")
        assert s1.json() == s2.json()


async def test_reports_are_still_computed_when_redis_goes_down(
    pg_settings, own_redis: tuple[str, subprocess.Popen[bytes]]
) -> None:  # type: ignore[no-untyped-def]
    url, proc = own_redis
    await wait_for_redis(url)
    app = create_app(pg_settings(redis_url=url))
    async with running_app(app) as client:
        runtime: Runtime = app.state.runtime
        who = bearer((await signup(client))["access_token"])
        org = (await client.get("/auth/me", headers=who)).json()["org_id"]
        await client.post("/api/v1/usage", json=records("down", 12), headers=who)
        report, how = await service.report_for(runtime, org, None, None)
        assert how == "miss" and report["records"] == 12
        assert (await service.report_for(runtime, org, None, None))[1] == "hit"

        proc.kill()
        proc.wait(10)
        errors_before = runtime.metrics.cache.labels("error")._value.get()  # type: ignore[attr-defined]
        down_report, how = await service.report_for(runtime, org, None, None)
        assert how == "bypass"
        assert down_report == report  # the same numbers, computed without the cache
        groups, how = await service.summary_for(runtime, org, "model", None, None)
        assert how == "bypass" and sum(g["records"] for g in groups) == 12
        assert runtime.metrics.cache.labels("error")._value.get() > errors_before  # type: ignore[attr-defined]
        # Over HTTP too (the revocation list is in the database, not Redis): answered uncached,
        # while readiness says Redis is down: degraded, still serving (docs/resilience.md).
        r = await client.post("/api/v1/analyses", json={}, headers=who)
        assert r.status_code == 201, r.text
        assert r.headers["x-cache"] == "bypass" and r.json()["records"] == 12
        ready = await client.get("/health/ready")
        assert ready.status_code == 200 and ready.json()["status"] == "degraded"
        assert ready.json()["dependencies"]["redis"]["status"] == "down"

        # Redis back on the same address: readiness and caching recover without a restart.
        port = url.rsplit(":", 1)[1].split("/")[0]
        again = await asyncio.create_subprocess_exec(
            str(shutil.which("redis-server")), "--port", port, "--bind", "127.0.0.1",
            "--save", "", "--appendonly", "no",
            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
        )  # fmt: skip
        try:
            await wait_for_redis(url)
            loop = asyncio.get_running_loop()
            deadline = loop.time() + 20
            while (await client.get("/health/ready")).json()["status"] != "ok":
                assert loop.time() < deadline, "readiness did not recover"
                await asyncio.sleep(0.1)
            first = await client.post("/api/v1/analyses", json={}, headers=who)
            second = await client.post("/api/v1/analyses", json={}, headers=who)
            assert (first.headers["x-cache"], second.headers["x-cache"]) == ("miss", "hit")
        finally:
            again.terminate()
            await again.wait()
