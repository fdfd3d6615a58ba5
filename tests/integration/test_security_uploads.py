"""Findings 1-3 on PostgreSQL and Redis, against a real uvicorn server.

1. Idle uploads (a client that sends headers and a few bytes, then nothing) hold no worker
   thread: 45 of them from one organisation do not stall another organisation's upload; each
   gets 408 after the read deadline; concurrent uploads are capped per user and organisation.
2. ``POST /api/v1/usage`` refuses a body over the cap (413) without reading it whole, and the
   server stays live meanwhile.
3. A CSV header of 200,000 columns is refused on line 1; bad rows with huge values get cut
   messages and a bounded answer.
"""

from __future__ import annotations

import asyncio
import json
from typing import Any

import httpx

from netra.apps.all_in_one import create_app
from support.accounts import bearer, signup
from support.realtime import LiveServer, live_server

HEADER = "timestamp,provider,model,input_tokens,output_tokens,request_id\n"


async def _idle_upload(server: LiveServer, token: str) -> tuple[asyncio.StreamReader, Any]:
    """Headers announcing 10 MB, the CSV header, then silence."""
    reader, writer = await asyncio.open_connection("127.0.0.1", server.port)
    head = (
        "POST /api/v1/usage/upload HTTP/1.1\r\nHost: 127.0.0.1\r\n"
        f"Authorization: Bearer {token}\r\nContent-Type: text/csv\r\n"
        "Content-Length: 10000000\r\n\r\n"
    )
    writer.write(head.encode() + HEADER.encode())
    await writer.drain()
    return reader, writer


async def _status(reader: asyncio.StreamReader, wait_s: float) -> int:
    line = await asyncio.wait_for(reader.readline(), wait_s)
    return int(line.split()[1])


async def test_idle_uploads_of_one_org_do_not_stall_another(pg_settings) -> None:  # type: ignore[no-untyped-def]
    settings = pg_settings(
        embedded_workers=False,
        upload_read_timeout_s=4.0,
        uploads_user_free=100,  # the caps are not what protects here: no thread is held
        uploads_org_free=100,
    )
    async with live_server(create_app(settings)) as server:
        async with httpx.AsyncClient(base_url=server.url, timeout=60) as http:
            attacker = (await signup(http))["access_token"]
            victim = bearer((await signup(http))["access_token"])
            idle = [await _idle_upload(server, attacker) for _ in range(45)]
            loop = asyncio.get_running_loop()
            started = loop.time()
            rows = "".join(f"2026-10-07T00:00:00Z,openai,gpt-4o,10,1,v-{i}\n" for i in range(300))
            answer = await http.post(
                "/api/v1/usage/upload",
                content=(HEADER + rows).encode(),
                headers={**victim, "Content-Type": "text/csv"},
            )
            assert answer.status_code == 200, answer.text
            assert answer.json()["accepted"] == 300
            # Answered long before the idle uploads' deadline: they held nothing it needed.
            assert loop.time() - started < 4.0
            statuses = await asyncio.gather(*(_status(r, 20) for r, _ in idle))
            assert set(statuses) == {408}
            for _, writer in idle:
                writer.close()


async def test_concurrent_uploads_are_capped_per_user_and_per_org(pg_settings) -> None:  # type: ignore[no-untyped-def]
    settings = pg_settings(embedded_workers=False, uploads_user_free=2, uploads_org_free=3)
    async with live_server(create_app(settings)) as server:
        async with httpx.AsyncClient(base_url=server.url, timeout=60) as http:
            account = await signup(http)
            owner, user_id = account["access_token"], account["user"]["id"]
            held = [await _idle_upload(server, owner) for _ in range(2)]
            cache = server.runtime.cache
            for _ in range(500):  # both idle uploads hold their slot (the server took them)
                slots = [await cache.get(f"slot:upload:user:{user_id}:{i}") for i in (0, 1)]
                if all(slots):
                    break
                await asyncio.sleep(0.02)
            assert all(slots)
            third = await http.post(
                "/api/v1/usage/upload",
                content=HEADER.encode(),
                headers={**bearer(owner), "Content-Type": "text/csv"},
            )
            assert third.status_code == 429, third.text
            assert third.json()["error"]["details"]["scope"] == "user"
            assert int(third.headers["retry-after"]) >= 1
            for _, writer in held:
                writer.close()
            # Closed uploads free their slots.
            for _ in range(100):
                again = await http.post(
                    "/api/v1/usage/upload",
                    content=HEADER.encode(),
                    headers={**bearer(owner), "Content-Type": "text/csv"},
                )
                if again.status_code == 200:
                    break
                await asyncio.sleep(0.05)
            assert again.status_code == 200, again.text


async def test_a_huge_json_body_is_refused_and_the_server_stays_live(pg_settings) -> None:  # type: ignore[no-untyped-def]
    settings = pg_settings(embedded_workers=False, usage_max_body_bytes=4 * 1024 * 1024)
    async with live_server(create_app(settings)) as server:
        async with httpx.AsyncClient(base_url=server.url, timeout=60) as http:
            auth = {
                **bearer((await signup(http))["access_token"]),
                "Content-Type": "application/json",
            }
            record = {
                "timestamp": "2026-10-07T00:00:00Z",
                "provider": "openai",
                "model": "gpt-4o",
                "input_tokens": 1,
                "output_tokens": 1,
                "pad": "x" * 3900,
            }  # fmt: skip  (an extra key: ignored)
            big = json.dumps({"records": [record] * 10_000}).encode()  # ~39 MB
            assert len(big) > 39_000_000

            async def chunks() -> Any:
                for start in range(0, len(big), 1 << 20):
                    yield big[start : start + (1 << 20)]

            async def live_checks() -> list[int]:
                codes = []
                for _ in range(20):
                    codes.append((await http.get("/health/live", timeout=5)).status_code)
                    await asyncio.sleep(0.02)
                return codes

            declared, streamed, live = await asyncio.gather(
                http.post("/api/v1/usage", content=big, headers=auth),
                http.post("/api/v1/usage", content=chunks(), headers=auth),
                live_checks(),
            )
            for answer in (declared, streamed):
                assert answer.status_code == 413, answer.text[:300]
                assert answer.json()["error"]["details"]["max_bytes"] == 4 * 1024 * 1024
            assert set(live) == {200}
            # Under the cap is still fine: 900 records of ~4 KB.
            fits = json.dumps({"records": [record] * 900}).encode()
            ok = await http.post("/api/v1/usage", content=fits, headers=auth)
            assert ok.status_code == 200 and ok.json()["accepted"] == 900


async def test_wide_headers_and_huge_bad_values_get_bounded_answers(pg_settings) -> None:  # type: ignore[no-untyped-def]
    async with live_server(create_app(pg_settings(embedded_workers=False))) as server:
        async with httpx.AsyncClient(base_url=server.url, timeout=120) as http:
            auth = {**bearer((await signup(http))["access_token"]), "Content-Type": "text/csv"}
            wide = HEADER.strip() + "," + ",".join(["x"] * 200_000) + "\n"
            answer = await http.post(
                "/api/v1/usage/upload", content=(wide + "2026-10-07T00:00:00Z\n" * 50).encode(),
                headers=auth,
            )  # fmt: skip
            assert answer.status_code == 200, answer.text[:300]
            [error] = answer.json()["rejected"]
            assert error["line"] == 1 and "at most 1024" in error["message"]

            huge = "x" * 100_000
            rows = "".join(f"{huge},openai,gpt-4o,1,1,r{i}\n" for i in range(300))  # 30 MB
            answer = await http.post(
                "/api/v1/usage/upload", content=(HEADER + rows).encode(), headers=auth
            )
            assert answer.status_code == 200
            body = answer.json()
            assert body["rejected_count"] == 300 and body["accepted"] == 0
            assert len(answer.content) < 150_000  # not 30 MB echoed back
            first = body["rejected"][0]
            assert first["field"] == "timestamp" and "100000 characters" in first["message"]
            assert len(first["message"]) < 300
