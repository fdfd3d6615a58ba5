"""Finding 8 on PostgreSQL and Redis, two replicas: logout revokes the whole sign-in session.
Sockets opened with an earlier token of that session close with 4401 within 2 s on every
replica, and a socket whose close has not arrived yet cannot start a run."""

from __future__ import annotations

import asyncio
import contextlib
from typing import Any

import httpx
import websockets
from websockets.exceptions import ConnectionClosed

from netra.apps.all_in_one import create_app
from netra.chat.hub import HUB
from support.accounts import bearer, signup
from support.realtime import Client, live_server


async def _closed_code(ws: websockets.ClientConnection, wait_s: float) -> int | None:
    try:
        while True:
            await asyncio.wait_for(ws.recv(), wait_s)
    except ConnectionClosed as exc:
        return exc.rcvd.code if exc.rcvd else None


async def test_logout_closes_every_socket_of_the_session_on_every_replica(pg_settings) -> None:  # type: ignore[no-untyped-def]
    settings = pg_settings(placeholder_pipeline=True, placeholder_step_delay_s=0.01)
    async with live_server(create_app(settings)) as one, live_server(create_app(settings)) as two:
        async with httpx.AsyncClient(base_url=one.url, timeout=30) as http:
            account = await signup(http)
            first = account["access_token"]
            rotated = await http.post(
                "/auth/refresh", json={"refresh_token": account["refresh_token"]}
            )
            second = rotated.json()["access_token"]
            # Another sign-in of the same user: a different session, which logout must spare.
            other = (
                await http.post(
                    "/auth/login",
                    json={"email": account["email"], "password": account["password"]},
                )
            ).json()["access_token"]

            old_on_one = await Client.connect(one.ws_url, first)
            old_on_two = await Client.connect(two.ws_url, first)
            spared = await Client.connect(two.ws_url, other)
            loop = asyncio.get_running_loop()
            started = loop.time()
            logout = await http.post("/auth/logout", headers=bearer(second))
            assert logout.status_code == 204
            codes = await asyncio.gather(
                _closed_code(old_on_one.ws, 3), _closed_code(old_on_two.ws, 3)
            )
            assert codes == [4401, 4401]
            assert loop.time() - started < 2
            await spared.send("ping", {})
            assert (await spared.recv_type("pong"))["type"] == "pong"
            # The earlier token opens nothing any more, on either replica.
            for server in (one, two):
                with contextlib.suppress(ConnectionClosed):
                    again = await websockets.connect(
                        server.ws_url, additional_headers={"Authorization": f"Bearer {first}"}
                    )
                    assert await _closed_code(again, 3) == 4401
            assert (await http.get("/auth/me", headers=bearer(first))).status_code == 401
            await spared.close()


async def test_a_socket_that_missed_the_revocation_cannot_start_a_run(pg_settings) -> None:  # type: ignore[no-untyped-def]
    settings = pg_settings(placeholder_pipeline=True, placeholder_step_delay_s=0.01)
    async with live_server(create_app(settings)) as server:
        hub: Any = server.runtime.services[HUB]
        async with httpx.AsyncClient(base_url=server.url, timeout=30) as http:
            account = await signup(http)
            token, user_id = account["access_token"], account["user"]["id"]
            client = await Client.connect(server.ws_url, token)
            # This replica no longer hears revocations (a lost bus message).
            assert hub._task is not None
            hub._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await hub._task
            assert (await http.post("/auth/logout", headers=bearer(token))).status_code == 204
            await client.send("user_message", {"text": "where does my money go?"}, "m1")
            assert await _closed_code(client.ws, 5) == 4401
            threads = await http.get("/api/v1/threads", headers=bearer(token))
            assert threads.status_code == 401
        runtime = server.runtime

        async def runs(session: Any) -> int:
            from sqlalchemy import func, select

            from netra.chat.models import Run

            count = select(func.count()).select_from(Run).where(Run.user_id == user_id)
            return int(await session.scalar(count) or 0)

        assert await runtime.db.run(runs) == 0
