"""Real exports of every source in, through ``POST /api/v1/usage/upload`` on PostgreSQL: each
source and layout is recognised, and the stored calls, tokens, cache reads, failures and cost
equal what the export states; a corrupt row is reported with its line and field while the good
rows are kept; a cost-only export or an unknown layout is a 400 naming what to send."""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import dataclass
from typing import Any

import httpx
import pytest

from netra.apps.all_in_one import create_app
from netra.core.settings import Settings
from support import usage_exports as ux
from support.accounts import bearer, signup
from support.apps import running_app
from support.services import flush_redis_prefix, new_redis_prefix

ROWS = 300


@dataclass
class Api:
    client: httpx.AsyncClient

    async def org(self) -> dict[str, str]:
        return bearer((await signup(self.client))["access_token"])

    async def upload(self, who: dict[str, str], export: ux.Export, **params: str) -> httpx.Response:
        files = {"file": (export.filename, export.body, "application/octet-stream")}
        return await self.client.post(
            "/api/v1/usage/upload", files=files, params=params, headers=who
        )

    async def totals(self, who: dict[str, str]) -> dict[str, Any]:
        r = await self.client.get(
            "/api/v1/usage/summary", params={"group_by": "provider"}, headers=who
        )
        assert r.status_code == 200, r.text
        groups = r.json()["groups"]
        keys = ("records", "requests", "input_tokens", "output_tokens", "cached_input_tokens",
                "failed_records", "unpriced_records", "cost_usd")  # fmt: skip
        return {k: sum(g[k] or 0 for g in groups) for k in keys} | {"groups": len(groups)}


@pytest.fixture(scope="module")
async def api(
    pg_url: str, redis_url: str, tmp_path_factory: pytest.TempPathFactory
) -> AsyncIterator[Api]:
    prefix = new_redis_prefix()
    settings = Settings(
        env="test",
        data_dir=tmp_path_factory.mktemp("usage-sources"),
        database_url=pg_url,
        redis_url=redis_url,
        redis_prefix=prefix,
    )
    async with running_app(create_app(settings)) as client:
        yield Api(client)
    flush_redis_prefix(redis_url, prefix)


_IDS = [f"{build.__name__}-{layout}" for build, layout in ux.ALL]


@pytest.mark.parametrize(("build", "layout"), ux.ALL, ids=_IDS)
async def test_each_export_stores_what_the_source_states(
    api: Api, build: ux.Builder, layout: str
) -> None:
    export = build(ROWS, 11, layout)
    who = await api.org()
    r = await api.upload(who, export)
    assert r.status_code == 200, r.text
    body = r.json()
    assert body["source"] == export.source  # recognised without being told
    assert body["rejected"] == [] and body["accepted"] == export.expect.records
    assert body["ignored_fields"] == export.extra_columns
    stored = await api.totals(who)
    want = export.expect
    assert stored["records"] == want.records
    assert stored["requests"] == want.requests
    assert stored["input_tokens"] == want.input_tokens
    assert stored["output_tokens"] == want.output_tokens
    assert stored["cached_input_tokens"] == want.cached_input_tokens
    assert stored["failed_records"] == want.failed
    assert stored["unpriced_records"] == 0
    if want.cost_usd is None:  # usage reports state no cost: priced from the catalogue
        assert stored["cost_usd"] > 0
    else:
        assert stored["cost_usd"] == pytest.approx(want.cost_usd, abs=1e-6 * stored["groups"])
    again = await api.upload(who, export)  # the same export twice is stored once
    assert again.json()["accepted"] == 0 and again.json()["duplicates"] == want.records


@pytest.mark.parametrize(("build", "layout"), ux.ALL, ids=_IDS)
async def test_a_corrupt_row_is_reported_and_the_good_rows_kept(
    api: Api, build: ux.Builder, layout: str
) -> None:
    export = build(ROWS, 12, layout, corrupt=True)
    assert export.bad is not None
    who = await api.org()
    r = await api.upload(who, export)
    assert r.status_code == 200, r.text
    body = r.json()
    assert [(e["line"], e["field"]) for e in body["rejected"]] == [export.bad]
    assert body["accepted"] == export.expect.records
    assert (await api.totals(who))["input_tokens"] == export.expect.input_tokens


async def test_the_source_can_be_named_and_is_then_checked(api: Api) -> None:
    who = await api.org()
    export = ux.litellm(20, 3, "csv")
    r = await api.upload(who, export, source="litellm")
    assert r.status_code == 200 and r.json()["accepted"] == 20
    wrong = await api.upload(who, export, source="openrouter")
    assert wrong.status_code == 400
    assert "not a openrouter file" in wrong.json()["error"]["message"]
    unknown = await api.upload(who, export, source="nope")
    assert unknown.status_code == 400 and "auto" in unknown.json()["error"]["message"]


@pytest.mark.parametrize(
    ("body", "name", "hint"),
    [
        (ux.openai_costs(), "costs.json", "/v1/organization/usage/completions"),
        (ux.anthropic_costs(), "cost_report.json", "/v1/organizations/usage_report/messages"),
    ],
)
async def test_cost_only_exports_are_refused_naming_the_usage_export(
    api: Api, body: bytes, name: str, hint: str
) -> None:
    who = await api.org()
    r = await api.client.post("/api/v1/usage/upload", files={"file": (name, body)}, headers=who)
    assert r.status_code == 400
    assert hint in r.json()["error"]["message"]
    assert (await api.totals(who))["records"] == 0


async def test_an_unknown_layout_is_refused_naming_what_was_expected(api: Api) -> None:
    who = await api.org()
    r = await api.client.post(
        "/api/v1/usage/upload",
        files={"file": ("export.csv", b"date,tokens,dollars\n2026-01-01,5,0.1\n")},
        headers=who,
    )
    assert r.status_code == 400
    error = r.json()["error"]
    assert "date, tokens, dollars" in error["message"]
    assert {"netra", "openai-usage", "anthropic-usage", "litellm", "langfuse", "helicone",
            "openrouter"} == set(error["details"]["expected"])  # fmt: skip


async def test_a_json_document_upload_is_streamed_as_a_raw_body(api: Api) -> None:
    who = await api.org()
    export = ux.anthropic_usage(120, 5, "json")
    r = await api.client.post(
        "/api/v1/usage/upload",
        content=export.body,
        headers={**who, "Content-Type": "application/json"},
    )
    assert r.status_code == 200, r.text
    assert r.json()["source"] == "anthropic-usage"
    assert r.json()["accepted"] == export.expect.records
