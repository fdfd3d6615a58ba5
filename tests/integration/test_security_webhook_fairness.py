"""I16 / finding 5 on PostgreSQL and Redis: one organisation's silent webhook receiver does not
delay another organisation's deliveries (per-org share of requests in flight), its breaker
stops the requests to it, and an organisation's attempts per minute are capped."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

from netra.apps.all_in_one import create_app
from support.accounts import bearer, signup
from support.apps import running_app
from support.webhook_receiver import webhook_receiver
from support.webhooks import emit


class Silent:
    """Accepts connections and reads, never answers (a dead receiver behind a live port)."""

    def __init__(self) -> None:
        self.open = 0
        self.most_open = 0
        self.accepted = 0

    async def handle(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.open += 1
        self.accepted += 1
        self.most_open = max(self.most_open, self.open)
        try:
            while await reader.read(65536):
                pass
        finally:
            self.open -= 1
            writer.close()


@asynccontextmanager
async def silent_receiver() -> AsyncIterator[tuple[Silent, str]]:
    silent = Silent()
    server = await asyncio.start_server(silent.handle, "127.0.0.1", 0)
    port = server.sockets[0].getsockname()[1]
    try:
        yield silent, f"http://127.0.0.1:{port}/hook"
    finally:
        server.close()


async def _hook(client: Any, auth: dict[str, str], url: str) -> str:
    created = await client.post(
        "/api/v1/webhooks", json={"url": url, "events": ["run.completed"]}, headers=auth
    )
    assert created.status_code == 201, created.text
    return str(created.json()["secret"])


async def _until(predicate: Any, wait_s: float = 15.0) -> None:
    loop = asyncio.get_running_loop()
    deadline = loop.time() + wait_s
    while not predicate():
        assert loop.time() < deadline, "condition not reached"
        await asyncio.sleep(0.02)


async def test_a_silent_receiver_does_not_delay_another_orgs_delivery(pg_settings) -> None:  # type: ignore[no-untyped-def]
    settings = pg_settings(
        embedded_workers=False, webhook_concurrency=4, webhook_org_concurrency=2,
        webhook_timeout_s=6.0, webhook_breaker_failures=1000, webhook_sweep_interval_s=0.2,
    )  # fmt: skip
    app = create_app(settings)
    async with silent_receiver() as (silent, dead_url), running_app(app) as client:
        runtime = app.state.runtime
        attacker = await signup(client)
        await _hook(client, bearer(attacker["access_token"]), dead_url)
        for n in range(30):
            await emit(runtime, attacker["user"]["org_id"], "run.completed", {"n": n})
        await _until(lambda: silent.open >= 2)

        victim = await signup(client)
        with webhook_receiver() as receiver:
            receiver.secret = await _hook(client, bearer(victim["access_token"]), receiver.url)
            loop = asyncio.get_running_loop()
            started = loop.time()
            await emit(runtime, victim["user"]["org_id"], "run.completed", {"n": "b"})
            [received] = await receiver.wait_for(1, timeout_s=10)
            took = loop.time() - started
        assert received.signature_ok
        # Well inside the silent receiver's 6 s timeout: B never queued behind A's requests.
        assert took < 3.0, took
        assert silent.most_open <= 2  # A's share of the requests in flight


async def test_the_breaker_stops_requests_to_a_dead_receiver(pg_settings) -> None:  # type: ignore[no-untyped-def]
    settings = pg_settings(
        embedded_workers=False, webhook_org_concurrency=1, webhook_timeout_s=0.5,
        webhook_breaker_failures=2, webhook_breaker_reset_s=60, webhook_retry_base_s=0.05,
        webhook_retry_max_s=0.1, webhook_max_attempts=10, webhook_sweep_interval_s=0.1,
    )  # fmt: skip
    app = create_app(settings)
    async with silent_receiver() as (silent, dead_url), running_app(app) as client:
        account = await signup(client)
        auth = bearer(account["access_token"])
        await _hook(client, auth, dead_url)
        for n in range(5):
            await emit(app.state.runtime, account["user"]["org_id"], "run.completed", {"n": n})
        hooks = (await client.get("/api/v1/webhooks", headers=auth)).json()["webhooks"]

        async def deliveries() -> list[dict[str, Any]]:
            url = f"/api/v1/webhooks/{hooks[0]['id']}/deliveries"
            return list((await client.get(url, headers=auth)).json()["deliveries"])

        loop = asyncio.get_running_loop()
        deadline = loop.time() + 20
        while True:
            rows = await deliveries()
            if sum(r["last_error"] == "receiver circuit open" for r in rows) == 5:
                break
            assert loop.time() < deadline, rows
            await asyncio.sleep(0.1)
        assert silent.accepted == 2  # the threshold; then no request until the reset
        assert all(r["status"] == "pending" for r in rows)


async def test_an_orgs_attempts_per_minute_are_capped(pg_settings) -> None:  # type: ignore[no-untyped-def]
    settings = pg_settings(embedded_workers=False, webhook_org_attempts_per_min=3)
    app = create_app(settings)
    with webhook_receiver() as receiver:
        async with running_app(app) as client:
            account = await signup(client)
            auth = bearer(account["access_token"])
            receiver.secret = await _hook(client, auth, receiver.url)
            for n in range(6):
                await emit(app.state.runtime, account["user"]["org_id"], "run.completed",
                                 {"n": n})  # fmt: skip
            await receiver.wait_for(3)
            hooks = (await client.get("/api/v1/webhooks", headers=auth)).json()["webhooks"]
            url = f"/api/v1/webhooks/{hooks[0]['id']}/deliveries"

            async def deferred() -> int:
                rows = (await client.get(url, headers=auth)).json()["deliveries"]
                return sum(r["last_error"] == "organisation's webhook rate" for r in rows)

            for _ in range(250):
                if await deferred() == 3:
                    break
                await asyncio.sleep(0.02)
            assert await deferred() == 3
            assert len(receiver.requests) == 3  # nothing dropped: the rest wait for next minute
