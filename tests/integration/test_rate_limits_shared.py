"""I13: two app instances share one tier limit through Redis, answer 429 with ``Retry-After``
and the IETF draft headers, count WebSocket frames too; with Redis down each instance limits
alone (never unlimited)."""

from __future__ import annotations

import subprocess
from contextlib import AsyncExitStack
from typing import Any

import httpx

from netra.apps.all_in_one import create_app
from support.accounts import bearer, signup
from support.apps import running_app
from support.realtime import Client, live_server
from support.redis_process import wait_for_redis

QUOTA = 10


def _assert_refused(answer: httpx.Response) -> None:
    assert answer.status_code == 429, answer.text
    assert answer.json()["error"]["code"] == "rate_limited"
    assert int(answer.headers["Retry-After"]) >= 1
    assert answer.headers["RateLimit-Policy"] == f'"free";q={QUOTA};w=60'
    assert answer.headers["RateLimit"].startswith('"free";r=0;t=')


async def test_two_instances_share_one_limit_through_redis(pg_settings: Any) -> None:
    settings = pg_settings(requests_per_min_free=QUOTA, embedded_workers=False)
    async with AsyncExitStack() as stack:
        one = await stack.enter_async_context(running_app(create_app(settings)))
        two = await stack.enter_async_context(running_app(create_app(settings)))
        who = bearer((await signup(one))["access_token"])  # sign-up and login are not counted
        seen = []
        for n in range(QUOTA):
            answer = await (one if n % 2 else two).get("/api/v1/members", headers=who)
            assert answer.status_code == 200, answer.text
            assert answer.headers["RateLimit-Policy"] == f'"free";q={QUOTA};w=60'
            seen.append(answer.headers["RateLimit"])
        assert seen[0].startswith(f'"free";r={QUOTA - 1};') and seen[-1].startswith('"free";r=0;')
        _assert_refused(await one.get("/api/v1/members", headers=who))
        _assert_refused(await two.get("/api/v1/usage/summary", headers=who))
        # Another organisation has its own budget.
        other = bearer((await signup(two))["access_token"])
        assert (await one.get("/api/v1/members", headers=other)).status_code == 200


async def test_websocket_frames_count_against_the_same_limit(pg_settings: Any) -> None:
    settings = pg_settings(requests_per_min_free=QUOTA, embedded_workers=False, ws_frame_burst=100)
    async with live_server(create_app(settings)) as srv:
        async with httpx.AsyncClient(base_url=srv.url, timeout=30) as client:
            account = await signup(client)
            who = bearer(account["access_token"])
            for _ in range(QUOTA - 3):
                assert (await client.get("/api/v1/members", headers=who)).status_code == 200
            ws = await Client.connect(srv.ws_url, account["access_token"])
            try:
                for n in range(3):
                    await ws.send("ping", {}, f"p{n}")
                    assert (await ws.recv_type("pong"))["id"] == f"p{n}"
                await ws.send("ping", {}, "over")
                frame = await ws.recv()
                assert frame["type"] == "error" and frame["id"] == "over"
                assert frame["payload"]["code"] == "rate_limited"
                assert frame["payload"]["retry_after_s"] >= 1
            finally:
                await ws.close()
            _assert_refused(await client.get("/api/v1/members", headers=who))


async def test_with_redis_down_each_instance_limits_alone(
    pg_settings: Any, own_redis: tuple[str, subprocess.Popen[bytes]]
) -> None:
    url, proc = own_redis
    await wait_for_redis(url)
    settings = pg_settings(requests_per_min_free=QUOTA, embedded_workers=False, redis_url=url)
    async with AsyncExitStack() as stack:
        one = await stack.enter_async_context(running_app(create_app(settings)))
        two = await stack.enter_async_context(running_app(create_app(settings)))
        who = bearer((await signup(one))["access_token"])
        for _ in range(4):  # shared while Redis answers: 4 of the 10 used
            assert (await one.get("/api/v1/members", headers=who)).status_code == 200
        proc.kill()
        proc.wait(10)
        # Each instance now counts alone, from a fresh local budget: never unlimited.
        for app in (one, two):
            for _ in range(QUOTA):
                answer = await app.get("/api/v1/members", headers=who)
                assert answer.status_code == 200, answer.text
            _assert_refused(await app.get("/api/v1/members", headers=who))
