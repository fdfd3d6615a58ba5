"""Issue 17 and finding 7 of issue 12, each defect's reproducer on PostgreSQL: NUL and lone
surrogates, integers past their columns, costs that overflowed the sums, timestamps that
overflow in UTC, empty and binary uploads. Bad input is a 4xx naming the field; never a 500."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import pytest
from fastapi import FastAPI

from netra.apps.all_in_one import create_app
from netra.chat.models import Run, RunEvent, Thread
from netra.core.inputs import MAX_BIGINT
from netra.core.settings import Settings
from netra.usage.models import UsageRow
from support.accounts import STRONG_PASSWORD, bearer, new_email, signup
from support.apps import running_app
from support.services import flush_redis_prefix, new_redis_prefix

NUL, LONE = "a\x00b", "a\ud800b"


@dataclass
class Api:
    app: FastAPI
    client: httpx.AsyncClient
    user: dict[str, Any]

    @property
    def auth(self) -> dict[str, str]:
        return bearer(self.user["access_token"])

    async def raw_json(self, method: str, path: str, body: Any, **kw: Any) -> httpx.Response:
        """Send ``body`` as JSON escapes (``\\u0000``, ``\\ud800``), as a hostile client can."""
        content = json.dumps(body).encode()  # ensure_ascii: lone surrogates as escapes
        headers = {"content-type": "application/json", **kw.pop("headers", {})}
        return await self.client.request(method, path, content=content, headers=headers, **kw)


@pytest.fixture(scope="module")
async def api(
    pg_url: str, redis_url: str, tmp_path_factory: pytest.TempPathFactory
) -> AsyncIterator[Api]:
    prefix = new_redis_prefix()
    settings = Settings(
        env="test",
        data_dir=tmp_path_factory.mktemp("edges"),
        database_url=pg_url,
        redis_url=redis_url,
        redis_prefix=prefix,
    )
    app = create_app(settings)
    async with running_app(app) as client:
        user = await signup(client, org_name="Edges")
        yield Api(app, client, user)
    flush_redis_prefix(redis_url, prefix)


def _fields(response: httpx.Response) -> list[str]:
    error = response.json()["error"]
    assert set(error) >= {"code", "message"}, error
    return [f["field"] for f in (error.get("details") or {}).get("fields", [])]


@pytest.mark.parametrize("bad", [NUL, LONE], ids=["nul", "surrogate"])
async def test_nul_and_surrogates_are_4xx_naming_the_field(api: Api, bad: str) -> None:
    cases: list[tuple[str, str, Any, str]] = [
        ("POST", "/auth/login", {"email": f"{bad}@x.com", "password": "x" * 12}, "email"),
        (
            "POST",
            "/auth/register",
            {"email": new_email(), "password": STRONG_PASSWORD, "name": bad},
            "name",
        ),
        (
            "POST",
            "/auth/register",
            {"email": f"{bad}@example.com", "password": STRONG_PASSWORD},
            "email",
        ),
        ("POST", "/api/v1/threads", {"title": bad}, "title"),
        (
            "POST",
            "/api/v1/budgets",
            {"scope": f"feature:{bad}", "period": "day", "limit_usd": 5},
            "scope",
        ),
        (
            "POST",
            "/api/v1/webhooks",
            {"url": f"https://{bad}.example.com/h", "events": ["run.completed"]},
            "url",
        ),
        (
            "POST",
            "/api/v1/webhooks",
            {"url": "https://example.com/h", "events": [bad]},
            "events.0",
        ),
        ("POST", "/api/v1/analyses", {"start": f"2026-01-01{bad}"}, "start"),
    ]
    for method, path, body, field in cases:
        r = await api.raw_json(method, path, body, headers=api.auth)
        assert r.status_code == 422, (path, r.status_code, r.text)
        assert field in _fields(r), (path, r.text)


async def test_nul_in_path_and_query_parameters_is_422(api: Api) -> None:
    for path, field in [
        ("/api/v1/analyses/a%00b", "path.analysis_id"),
        ("/api/v1/runs/a%00b/events", "path.run_id"),
        ("/api/v1/threads/a%00b/messages", "path.thread_id"),
        ("/api/v1/analyses/%ED%A0%80", "path.analysis_id"),  # a surrogate, UTF-8 encoded
    ]:
        r = await api.client.get(path, headers=api.auth)
        assert r.status_code == 422 and _fields(r) == [field], (path, r.text)
    r = await api.client.delete("/api/v1/budgets/a%00b", headers=api.auth)
    assert r.status_code == 422
    r = await api.client.get("/api/v1/usage/summary?start=2026%00", headers=api.auth)
    assert r.status_code == 422 and _fields(r) == ["start"]


async def test_usage_records_with_nul_are_rejected_rows_not_a_500(api: Api) -> None:
    now = datetime.now(UTC).isoformat()
    good = {"timestamp": now, "provider": "openai", "model": "gpt-4o",
            "input_tokens": 10, "output_tokens": 1}  # fmt: skip
    records = [good, {**good, "provider": NUL}, {**good, "feature": LONE}, {**good, "user": NUL}]
    r = await api.raw_json("POST", "/api/v1/usage", {"records": records}, headers=api.auth)
    assert r.status_code == 200, r.text
    body = r.json()
    assert body["accepted"] == 1
    assert [(x["line"], x["field"]) for x in body["rejected"]] == [
        (2, "provider"), (3, "feature"), (4, "user"),
    ]  # fmt: skip


async def _own_run(api: Api, events: list[int]) -> str:
    """A run of the signed-in user with events at the given seqs (stored as a worker would)."""
    user = api.user["user"]

    async def store(session: Any) -> str:
        thread = Thread(org_id=user["org_id"], user_id=user["id"], title="t")
        session.add(thread)
        await session.flush()
        run = Run(org_id=user["org_id"], user_id=user["id"], tier="free", role="owner",
                  thread_id=thread.id, message_id="m", request_id="r", status="running",
                  last_seq=max(events, default=0))  # fmt: skip
        session.add(run)
        await session.flush()
        for seq in events:
            payload = {"agent": "supervisor", "thought": str(seq)}
            session.add(RunEvent(run_id=run.id, seq=seq, type="agent_thinking", payload=payload))
        return str(run.id)

    return str(await api.app.state.runtime.db.run(store))


async def test_integers_past_32_bits_fit_and_past_63_bits_are_refused(api: Api) -> None:
    big = 2**31 + 5
    run_id = await _own_run(api, [1, big])
    path = f"/api/v1/runs/{run_id}/events"
    r = await api.client.get(path, params={"after_seq": 2**31}, headers=api.auth)
    assert r.status_code == 200, r.text  # was a 500: the seq column was 32-bit
    assert [e["seq"] for e in r.json()["events"]] == [big] and r.json()["last_seq"] == big
    edge = await api.client.get(path, params={"after_seq": MAX_BIGINT}, headers=api.auth)
    assert edge.status_code == 200 and edge.json()["events"] == []
    for params in ({"after_seq": 2**63}, {"after_seq": 10**30}, {"limit": 2**63}):
        r = await api.client.get(path, params=params, headers=api.auth)
        assert r.status_code == 422, (params, r.text)
    threads = "/api/v1/threads"
    assert (
        await api.client.get(threads, params={"offset": 2**63}, headers=api.auth)
    ).status_code == 422
    r = await api.client.get(threads, params={"offset": MAX_BIGINT}, headers=api.auth)
    assert r.status_code == 200 and r.json()["threads"] == []


async def test_huge_costs_are_refused_and_stored_ones_never_poison_reports(api: Api) -> None:
    owner = await signup(api.client, org_name="Poisoned")
    auth, org = bearer(owner["access_token"]), owner["user"]["org_id"]
    now = datetime.now(UTC).replace(microsecond=0)
    row = {"timestamp": now.isoformat(), "provider": "openai", "model": "gpt-4o",
           "input_tokens": 1000, "output_tokens": 100}  # fmt: skip
    r = await api.client.post(
        "/api/v1/usage",
        json={"records": [{**row, "cost_usd": 1e308}, {**row, "latency_ms": 1e300}, row]},
        headers=auth,
    )
    assert r.status_code == 200 and r.json()["accepted"] == 1
    assert [x["field"] for x in r.json()["rejected"]] == ["cost_usd", "latency_ms"]

    # Rows stored before the bound existed: the reports must still work.
    async def poison(session: Any) -> None:
        for cost in (1e308, 1e308, float("inf"), float("nan")):
            stored = UsageRow(org_id=org, timestamp=now - timedelta(hours=1), provider="openai",
                              model="gpt-4o", input_tokens=1000, output_tokens=100,
                              cost_usd=cost, latency_ms=float("inf"))  # fmt: skip
            session.add(stored)

    await api.app.state.runtime.db.run(poison)
    budget = await api.client.post(
        "/api/v1/budgets", json={"scope": "org", "period": "month", "limit_usd": 100}, headers=auth
    )
    assert budget.status_code == 201, budget.text
    for _ in range(2):  # twice: the second comes from the cache
        analysis = await api.client.post("/api/v1/analyses", json={}, headers=auth)
        assert analysis.status_code == 201, analysis.text
        total = analysis.json()["total_cost_usd"]
        assert 0 < total < 1e6 and analysis.json()["records"] == 5
    summary = await api.client.get("/api/v1/usage/summary", headers=auth)
    assert summary.status_code == 200 and 0 < summary.json()["groups"][0]["cost_usd"] < 1e6
    budgets = await api.client.get("/api/v1/budgets", headers=auth)
    assert budgets.status_code == 200 and 0 < budgets.json()["budgets"][0]["spend_usd"] < 1e6
    stored = await api.client.get(f"/api/v1/analyses/{analysis.json()['id']}", headers=auth)
    assert stored.status_code == 200 and stored.json()["total_cost_usd"] == total


async def test_timestamps_overflowing_in_utc_reject_their_rows_not_the_upload(api: Api) -> None:
    now = datetime.now(UTC).replace(microsecond=0).isoformat()
    csv = (
        "timestamp,provider,model,input_tokens,output_tokens\n"
        f"{now},openai,gpt-4o,10,1\n"
        "9999-12-31T23:59:59-14:00,openai,gpt-4o,10,1\n"
        "0001-01-01T00:00:00+05:00,openai,gpt-4o,10,1\n"
        f"{now},openai,gpt-4o,20,2\n"
    )
    r = await api.client.post(
        "/api/v1/usage/upload", files={"file": ("u.csv", csv.encode())}, headers=api.auth
    )
    assert r.status_code == 200, r.text
    assert r.json()["accepted"] == 2
    assert [(x["line"], x["field"]) for x in r.json()["rejected"]] == [
        (3, "timestamp"), (4, "timestamp"),
    ]  # fmt: skip
    for after in ("0001-01-01T00:00:00+05:00", "9999-12-31T23:59:59-14:00"):
        page = await api.client.get("/api/v1/audit", params={"after": after}, headers=api.auth)
        assert page.status_code == 422 and _fields(page) == ["after"], page.text
    records = [{"timestamp": "0001-01-01T00:00:00+05:00", "provider": "p", "model": "m",
                "input_tokens": 1, "output_tokens": 1}]  # fmt: skip
    r = await api.client.post("/api/v1/usage", json={"records": records}, headers=api.auth)
    assert r.status_code == 200 and r.json()["rejected"][0]["field"] == "timestamp"


@pytest.mark.parametrize(
    "content",
    [b"", b"  \n\n", b"\x1f\x8b\x08\x00" + bytes(range(256)) * 8, "a,b\n".encode("utf-16")],
    ids=["empty", "blank", "gzip", "utf-16"],
)
async def test_an_empty_or_binary_upload_is_400(api: Api, content: bytes) -> None:
    r = await api.client.post(
        "/api/v1/usage/upload", files={"file": ("usage.csv", content)}, headers=api.auth
    )
    assert r.status_code == 400, r.text
    assert r.json()["error"]["code"] == "bad_request"
    assert "empty" in r.text or "not text" in r.text


@pytest.mark.parametrize(
    ("path", "content"),
    [
        ("/api/v1/budgets", b"{x"),
        ("/api/v1/webhooks", b'{"url": "http://127.0.0.1:9/h",'),
        ("/api/v1/threads", b"not json at all"),
        ("/auth/login", b"{'email': 'single quotes'}"),
    ],
)
async def test_a_body_that_is_not_json_is_400_bad_request(
    api: Api, path: str, content: bytes
) -> None:
    """API.md: 400 is bad input, 422 validation; a body that does not parse is not a field to
    validate (docs/api.md lists it under 400, and so does each operation's OpenAPI entry)."""
    headers = {**api.auth, "content-type": "application/json"}
    r = await api.client.post(path, content=content, headers=headers)
    assert r.status_code == 400, r.text
    error = r.json()["error"]
    assert error["code"] == "bad_request" and "not valid JSON" in error["message"]
