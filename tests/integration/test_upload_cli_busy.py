"""``netra upload`` against a real server that answers 429: the file is sent again after the
answer's ``Retry-After`` (a rate is not the file's fault, so never exit 2 "bad input"), and
the rows are stored once."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx

from netra.apps.all_in_one import create_app
from netra.usage.upload_cli import upload_command
from support.accounts import bearer, signup
from support.realtime import live_server

_YESTERDAY = (datetime.now(UTC) - timedelta(days=1)).strftime("%Y-%m-%dT%H:%M:00Z")
CSV = (
    "timestamp,provider,model,input_tokens,output_tokens,request_id\n"
    f"{_YESTERDAY},openai,gpt-4o,100,20,busy-1\n"
    f"{_YESTERDAY},openai,gpt-4o,100,20,busy-2\n"
)


async def test_a_rate_limited_upload_is_sent_again_after_retry_after(
    pg_settings: Any, tmp_path: Path, capsys: Any
) -> None:
    # 60 a minute: one request a second once the quota is spent, so Retry-After is short.
    async with live_server(create_app(pg_settings(requests_per_min_free=60))) as srv:
        async with httpx.AsyncClient(base_url=srv.url, timeout=30) as client:
            owner = bearer((await signup(client, org_name="Busy uploads"))["access_token"])
            made = await client.post(
                "/api/v1/api-keys", json={"name": "cli", "scopes": ["usage:write"]}, headers=owner
            )
            assert made.status_code == 201, made.text
            key = made.json()["key"]
            spent = None
            for _ in range(100):  # spend the organisation's quota
                spent = await client.get("/api/v1/members", headers=owner)
                if spent.status_code == 429:
                    break
            assert spent is not None and spent.status_code == 429
            usage = tmp_path / "usage.csv"
            usage.write_text(CSV)
            code = await asyncio.to_thread(upload_command, [usage], srv.url, "auto", key)
            out = capsys.readouterr()
            assert code == 0, out.err
            assert "sending again" in out.err
            assert "accepted 2, duplicates 0, rejected 0" in out.out
            deadline = asyncio.get_running_loop().time() + 30
            while True:  # the quota is still spent: read the totals once it allows
                summary = await client.get("/api/v1/usage/summary", headers=owner)
                if summary.status_code != 429:
                    break
                assert asyncio.get_running_loop().time() < deadline, summary.text
                await asyncio.sleep(float(summary.headers["Retry-After"]))
            assert summary.status_code == 200, summary.text
            assert sum(g["records"] for g in summary.json()["groups"]) == 2
