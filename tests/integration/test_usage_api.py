"""The usage endpoints of API.md on PostgreSQL and Redis, through the real auth flow: ingest
(JSON and streamed upload), per-row errors, deduplication, atomic mode, limits, summaries,
analyses, tenancy and metrics (areas I9, I10)."""

from __future__ import annotations

import asyncio
import json
import random
from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest

from netra.apps.all_in_one import create_app
from netra.core.settings import Settings
from netra.records.record import FIELDS
from support.accounts import bearer, signup
from support.apps import running_app
from support.services import flush_redis_prefix, new_redis_prefix


@dataclass
class Api:
    client: httpx.AsyncClient
    alice: dict[str, str]  # org A
    bob: dict[str, str]  # org B


@pytest.fixture(scope="module")
async def api(
    pg_url: str, redis_url: str, tmp_path_factory: pytest.TempPathFactory
) -> AsyncIterator[Api]:
    prefix = new_redis_prefix()
    settings = Settings(
        env="test",
        data_dir=tmp_path_factory.mktemp("usage-api"),
        database_url=pg_url,
        redis_url=redis_url,
        redis_prefix=prefix,
    )
    async with running_app(create_app(settings)) as client:
        a = await signup(client, org_name="Org A")
        b = await signup(client, org_name="Org B")
        yield Api(client, bearer(a["access_token"]), bearer(b["access_token"]))
    flush_redis_prefix(redis_url, prefix)


def rec(i: int, tag: str, **changes: Any) -> dict[str, Any]:
    body: dict[str, Any] = {
        "timestamp": f"2026-10-{1 + i % 28:02d}T12:00:00Z",
        "provider": "openai",
        "model": "gpt-4o-mini" if i % 2 else "gpt-4o",
        "input_tokens": 1000 + i,
        "output_tokens": 50,
        "feature": "chat",
        "request_id": f"{tag}-{i}",
    }
    body.update(changes)
    return body


async def summary(api: Api, who: dict[str, str], **params: str) -> dict[str, Any]:
    r = await api.client.get("/api/v1/usage/summary", params=params, headers=who)
    assert r.status_code == 200, r.text
    return dict(r.json())


def records_in(body: dict[str, Any]) -> int:
    return sum(int(g["records"]) for g in body["groups"])


async def test_json_ingest_stores_good_rows_and_reports_bad_ones(api: Api) -> None:
    before = records_in(await summary(api, api.alice))
    good = [rec(i, "json") for i in range(5)]
    bad = [
        rec(5, "json", timestamp="yesterday-ish"),
        rec(6, "json", input_tokens=-3),
        {"provider": "openai"},
        "not an object",
    ]
    r = await api.client.post("/api/v1/usage", json={"records": good + bad}, headers=api.alice)
    assert r.status_code == 200, r.text
    body = r.json()
    assert (body["accepted"], body["duplicates"], body["rejected_count"]) == (5, 0, 4)
    assert [(e["line"], e["field"]) for e in body["rejected"]] == [
        (6, "timestamp"),
        (7, "input_tokens"),
        (8, "timestamp"),
        (9, None),
    ]
    assert all(e["message"] for e in body["rejected"])
    assert records_in(await summary(api, api.alice)) == before + 5

    again = await api.client.post("/api/v1/usage", json={"records": good}, headers=api.alice)
    assert again.json()["accepted"] == 0 and again.json()["duplicates"] == 5
    assert records_in(await summary(api, api.alice)) == before + 5


async def test_json_ingest_lists_the_keys_it_does_not_read(api: Api) -> None:
    """Nothing is silently dropped (API.md): an unknown key (a typo of an optional field) is
    named once in ``ignored_fields``, as uploads do; the records are still stored."""
    records = [rec(0, "keys", cached_tokens=10, region="eu"), rec(1, "keys", region="us")]
    r = await api.client.post("/api/v1/usage", json={"records": records}, headers=api.alice)
    assert r.status_code == 200, r.text
    assert r.json()["accepted"] == 2 and r.json()["ignored_fields"] == ["cached_tokens", "region"]
    clean = await api.client.post(
        "/api/v1/usage", json={"records": [rec(2, "keys")]}, headers=api.alice
    )
    assert clean.json()["ignored_fields"] == []


async def test_duplicates_within_one_call_store_once(api: Api) -> None:
    records = [rec(1, "twice"), rec(1, "twice"), rec(2, "twice")]
    r = await api.client.post("/api/v1/usage", json={"records": records}, headers=api.alice)
    assert (r.json()["accepted"], r.json()["duplicates"]) == (2, 1)


async def test_more_than_ten_thousand_records_is_413_and_stores_nothing(api: Api) -> None:
    before = records_in(await summary(api, api.alice))
    records = [rec(i, "huge") for i in range(10_001)]
    r = await api.client.post("/api/v1/usage", json={"records": records}, headers=api.alice)
    assert r.status_code == 413
    assert r.json()["error"]["code"] == "payload_too_large"
    assert records_in(await summary(api, api.alice)) == before
    ok = await api.client.post(
        "/api/v1/usage", json={"records": records[:10_000]}, headers=api.alice
    )
    assert ok.status_code == 200 and ok.json()["accepted"] == 10_000


@pytest.mark.parametrize(
    ("body", "status"),
    [
        (b"{not json", 400),
        (b"[]", 422),
        (b'{"records": "many"}', 422),
        (b'{"rows": []}', 422),
        (b"\xff\xfe", 400),
        (b'{"records": ' + b"[" * 100_000 + b"]" * 100_000 + b"}", 400),
    ],
)
async def test_malformed_bodies_are_client_errors(api: Api, body: bytes, status: int) -> None:
    headers = {**api.alice, "Content-Type": "application/json"}
    r = await api.client.post("/api/v1/usage", content=body, headers=headers)
    assert r.status_code == status, r.text
    assert set(r.json()["error"]) >= {"code", "message"}


async def test_hostile_values_are_rejected_per_row_never_500(api: Api) -> None:
    records = [
        rec(1, "hostile", feature="nul\u0000inside"),
        rec(2, "hostile", input_tokens=2**70),
        rec(3, "hostile", cost_usd="NaN"),
        rec(4, "hostile", model=["a", "list"]),
        rec(5, "hostile", batch="maybe"),
        rec(6, "hostile", feature="x" * 5000),
        rec(7, "hostile"),
    ]
    r = await api.client.post("/api/v1/usage", json={"records": records}, headers=api.alice)
    assert r.status_code == 200, r.text
    body = r.json()
    assert body["accepted"] == 1
    assert sorted(e["line"] for e in body["rejected"]) == [1, 2, 3, 4, 5, 6]


async def test_upload_reports_each_bad_line_of_a_csv(api: Api, tmp_path: Path) -> None:
    lines = ["timestamp,provider,model,input_tokens,output_tokens,request_id,status"]
    expected_bad: list[tuple[int, str | None]] = []
    for i in range(1, 301):
        line_no = i + 1
        row = f"2026-10-05T10:00:{i % 60:02d}Z,anthropic,claude-sonnet-4-5,{500 + i},20,up-{i},ok"
        if i % 50 == 0:
            row = row.replace(",ok", ",exploded")
            expected_bad.append((line_no, "status"))
        elif i % 70 == 0:
            row = row.replace(f",{500 + i},", ",lots,")
            expected_bad.append((line_no, "input_tokens"))
        lines.append(row)
    path = tmp_path / "usage.csv"
    path.write_text("\n".join(lines) + "\n")
    with path.open("rb") as fh:
        r = await api.client.post(
            "/api/v1/usage/upload", files={"file": ("usage.csv", fh)}, headers=api.alice
        )
    assert r.status_code == 200, r.text
    body = r.json()
    assert body["accepted"] == 300 - len(expected_bad)
    assert sorted((e["line"], e["field"]) for e in body["rejected"]) == sorted(expected_bad)

    with path.open("rb") as fh:  # the same file again: every good row is a duplicate
        again = await api.client.post(
            "/api/v1/usage/upload", files={"file": ("usage.csv", fh)}, headers=api.alice
        )
    assert again.json()["accepted"] == 0
    assert again.json()["duplicates"] == 300 - len(expected_bad)


async def test_upload_of_json_lines_and_of_a_raw_body(api: Api) -> None:
    jsonl = "\n".join(json.dumps(rec(i, "jsonl")) for i in range(4)) + "\n{broken\n\n"
    r = await api.client.post(
        "/api/v1/usage/upload",
        files={"file": ("u.jsonl", jsonl.encode(), "application/x-ndjson")},
        headers=api.alice,
    )
    assert r.json()["accepted"] == 4
    assert [(e["line"], e["field"]) for e in r.json()["rejected"]] == [(5, None)]

    csv_body = "timestamp,provider,model,input_tokens,output_tokens\n1761900000,openai,o3,5,5\n"
    raw = await api.client.post(
        "/api/v1/usage/upload",
        content=csv_body.encode(),
        headers={**api.alice, "Content-Type": "text/csv"},
    )
    assert raw.status_code == 200 and raw.json()["accepted"] == 1


async def test_unparseable_content_is_reported_where_reading_stopped(api: Api) -> None:
    good = json.dumps(rec(1, "deep")) + "\n"
    deep = '{"a": ' * 50_000 + "1" + "}" * 50_000 + "\n"
    r = await api.client.post(
        "/api/v1/usage/upload", files={"file": ("d.jsonl", (good + deep).encode())},
        headers=api.alice,
    )  # fmt: skip
    assert r.status_code == 200, r.text
    assert r.json()["accepted"] == 1 and r.json()["rejected"][0]["line"] == 2
    huge_field = "timestamp,provider,model,input_tokens,output_tokens\n" + '"' + "x" * 200_000
    r = await api.client.post(
        "/api/v1/usage/upload", files={"file": ("h.csv", huge_field.encode())}, headers=api.alice
    )
    assert r.status_code == 200, r.text
    assert [(e["line"], e["field"]) for e in r.json()["rejected"]] == [(2, None)]
    assert "field limit" in r.json()["rejected"][0]["message"]


async def test_upload_without_a_file_or_with_a_bad_header_is_a_client_error(api: Api) -> None:
    r = await api.client.post(
        "/api/v1/usage/upload", content=b"hello", headers={**api.alice, "Content-Type": "x/y"}
    )
    assert r.status_code == 400
    r = await api.client.post(
        "/api/v1/usage/upload", data={"note": "no file"}, files={}, headers=api.alice
    )
    assert r.status_code in (400, 422)
    # An unknown layout is refused naming what was expected (API.md "Usage sources").
    r = await api.client.post(
        "/api/v1/usage/upload",
        files={"file": ("u.csv", b"time,provider\n1,2\n")},
        headers=api.alice,
    )
    assert r.status_code == 400
    assert "input_tokens" in r.json()["error"]["message"]
    # A Netra header with one required column misspelled: the column is named on line 1.
    r = await api.client.post(
        "/api/v1/usage/upload",
        files={"file": ("u.csv", b"timestamp,provider,model,input_tokens,outputtokens\n")},
        headers=api.alice,
    )
    assert r.status_code == 200
    assert r.json()["accepted"] == 0
    assert (r.json()["rejected"][0]["line"], r.json()["rejected"][0]["field"]) == (
        1,
        "output_tokens",
    )


async def test_the_rejected_list_is_capped_but_the_count_is_complete(api: Api) -> None:
    rows = ["timestamp,provider,model,input_tokens,output_tokens"]
    rows += ["2026-10-01T00:00:00Z,openai,gpt-4o,-1,1"] * 1500
    r = await api.client.post(
        "/api/v1/usage/upload",
        files={"file": ("bad.csv", ("\n".join(rows) + "\n").encode())},
        headers=api.alice,
    )
    body = r.json()
    assert body["rejected_count"] == 1500 and len(body["rejected"]) == 1000
    assert body["rejected_truncated"] is True
    assert body["rejected"][-1]["line"] == 1001


async def test_atomic_ingest_is_all_or_nothing(api: Api) -> None:
    before = records_in(await summary(api, api.alice))
    records = [rec(i, "atomic") for i in range(20)] + [rec(20, "atomic", model="")]
    r = await api.client.post(
        "/api/v1/usage", params={"atomic": "true"}, json={"records": records}, headers=api.alice
    )
    assert r.status_code == 422
    details = r.json()["error"]["details"]
    assert details["accepted"] == 0 and details["rejected"][0]["line"] == 21
    assert records_in(await summary(api, api.alice)) == before

    csv_text = "timestamp,provider,model,input_tokens,output_tokens,request_id\n"
    csv_text += "".join(
        f"2026-10-02T00:00:00Z,openai,gpt-4o,10,1,atomic-up-{i}\n" for i in range(9)
    )
    csv_text += "2026-10-02T00:00:00Z,openai,gpt-4o,ten,1,atomic-up-9\n"
    up = await api.client.post(
        "/api/v1/usage/upload",
        params={"atomic": "true"},
        files={"file": ("a.csv", csv_text.encode())},
        headers=api.alice,
    )
    assert up.status_code == 422 and up.json()["error"]["details"]["rejected"][0]["line"] == 11
    assert records_in(await summary(api, api.alice)) == before

    ok = await api.client.post(
        "/api/v1/usage", params={"atomic": "true"}, json={"records": records[:20]},
        headers=api.alice,
    )  # fmt: skip
    assert ok.status_code == 200 and ok.json()["accepted"] == 20
    assert records_in(await summary(api, api.alice)) == before + 20


async def test_organisations_are_isolated(api: Api) -> None:
    await api.client.post(
        "/api/v1/usage", json={"records": [rec(i, "iso", feature="alice-only") for i in range(3)]},
        headers=api.alice,
    )  # fmt: skip
    bob_before = await summary(api, api.bob, group_by="feature")
    assert "alice-only" not in {g["key"] for g in bob_before["groups"]}
    # Bob may send the same request_ids: they are his, not duplicates of Alice's
    r = await api.client.post(
        "/api/v1/usage", json={"records": [rec(i, "iso", feature="bob") for i in range(3)]},
        headers=api.bob,
    )  # fmt: skip
    assert r.json()["accepted"] == 3
    alice_features = {
        g["key"] for g in (await summary(api, api.alice, group_by="feature"))["groups"]
    }
    assert "bob" not in alice_features

    created = await api.client.post("/api/v1/analyses", json={}, headers=api.alice)
    assert created.status_code == 201
    report_id = created.json()["id"]
    assert (
        await api.client.get(f"/api/v1/analyses/{report_id}", headers=api.bob)
    ).status_code == 404
    mine = await api.client.get(f"/api/v1/analyses/{report_id}", headers=api.alice)
    assert mine.status_code == 200 and mine.json() == created.json()


async def test_every_endpoint_needs_a_token(api: Api) -> None:
    calls = [
        ("POST", "/api/v1/usage"),
        ("POST", "/api/v1/usage/upload"),
        ("GET", "/api/v1/usage/summary"),
        ("POST", "/api/v1/analyses"),
        ("GET", "/api/v1/analyses/abc"),
    ]
    for method, path in calls:
        r = await api.client.request(method, path, headers={"Authorization": "Bearer x.y.z"})
        assert r.status_code == 401, (method, path)
        assert (await api.client.request(method, path)).status_code == 401


async def test_analysis_report_has_the_documented_shape_and_counts(api: Api) -> None:
    start, end = "2026-09-01T00:00:00Z", "2026-09-03T00:00:00Z"
    records = [rec(i, "shape", timestamp=f"2026-09-0{1 + i % 2}T08:00:00Z") for i in range(6)]
    records.append(rec(9, "shape", timestamp="2026-09-05T08:00:00Z"))  # outside the period
    await api.client.post("/api/v1/usage", json={"records": records}, headers=api.bob)
    r = await api.client.post(
        "/api/v1/analyses", json={"start": start, "end": end}, headers=api.bob
    )
    assert r.status_code == 201, r.text
    report = r.json()
    for field in ("id", "period", "records", "priced_records", "unpriced", "total_cost_usd",
                  "breakdown", "findings", "projected_savings_usd", "projected_savings_pct",
                  "forecast"):  # fmt: skip
        assert field in report, field
    assert report["records"] == 6
    assert set(report["breakdown"]) >= {"by_model", "by_provider", "by_feature", "by_day"}
    by_model = await summary(api, api.bob, group_by="model", start=start, end=end)
    assert records_in(by_model) == 6
    # the same period with offsets, and with the "+" sent unencoded (a space once decoded)
    raw = "/api/v1/usage/summary?start=2026-09-01T02:00:00+02:00&end=2026-09-03T00:00:00Z"
    offset = await api.client.get(raw, headers=api.bob)
    assert offset.status_code == 200 and records_in(offset.json()) == 6
    bad = await api.client.get("/api/v1/usage/summary", params={"start": "soon"}, headers=api.bob)
    assert bad.status_code == 422
    bad = await api.client.get(
        "/api/v1/usage/summary", params={"group_by": "colour"}, headers=api.bob
    )
    assert bad.status_code == 422
    backwards = await api.client.post(
        "/api/v1/analyses", json={"start": end, "end": start}, headers=api.bob
    )
    assert backwards.status_code == 422


async def test_a_model_without_a_price_is_never_shown_as_zero_dollars(api: Api) -> None:
    """API.md: a model the catalogue does not know is reported as unpriced with its record
    count, never priced as $0: its groups' cost_usd is null (the web UI prints "unpriced"),
    and a group that is partly priced keeps the priced part beside its unpriced count."""
    midnight = datetime.now(UTC).replace(hour=0, minute=0, second=0, microsecond=0)
    first = midnight - timedelta(days=7)  # no other test here stores records on that day
    start, end = (d.strftime("%Y-%m-%dT%H:%M:%SZ") for d in (first, first + timedelta(days=1)))
    day = {"timestamp": (first + timedelta(hours=9)).strftime("%Y-%m-%dT%H:%M:%SZ"),
           "feature": "unpriced-check"}  # fmt: skip
    records = [
        rec(0, "noprice", **day, provider="acme", model="acme-mystery-1"),
        rec(1, "noprice", **day, provider="acme", model="acme-mystery-1"),
        rec(2, "noprice", **day),
    ]
    stored = await api.client.post("/api/v1/usage", json={"records": records}, headers=api.bob)
    assert stored.json()["accepted"] == 3, stored.text
    period = {"start": start, "end": end}
    models = {g["key"]: g for g in (await summary(api, api.bob, **period))["groups"]}
    mystery = models["acme-mystery-1"]
    assert (mystery["records"], mystery["unpriced_records"], mystery["cost_usd"]) == (2, 2, None)
    assert models["gpt-4o"]["cost_usd"] > 0
    [feature] = (await summary(api, api.bob, group_by="feature", **period))["groups"]
    assert feature["unpriced_records"] == 2 and feature["cost_usd"] == models["gpt-4o"]["cost_usd"]
    r = await api.client.post("/api/v1/analyses", json=period, headers=api.bob)
    assert r.status_code == 201, r.text
    report = r.json()
    assert report["unpriced"] == [{"provider": "acme", "model": "acme-mystery-1", "records": 2}]
    by_model = {g["key"]: g for g in report["breakdown"]["by_model"]}
    assert by_model["acme-mystery-1"]["cost_usd"] is None


async def test_ingest_moves_the_usage_metrics(api: Api) -> None:
    def counter(text: str, result: str) -> float:
        for line in text.splitlines():
            if line.startswith(f'netra_usage_records_total{{result="{result}"}}'):
                return float(line.split()[-1])
        return 0.0

    before = (await api.client.get("/metrics")).text
    records = [rec(i, "metrics") for i in range(3)] + [rec(0, "metrics"), {"bad": 1}]
    await api.client.post("/api/v1/usage", json={"records": records}, headers=api.alice)
    after = (await api.client.get("/metrics")).text
    assert counter(after, "accepted") - counter(before, "accepted") == 3
    assert counter(after, "duplicate") - counter(before, "duplicate") == 1
    assert counter(after, "rejected") - counter(before, "rejected") == 1


JUNK: list[Any] = [
    None, True, -1, 0, 2**64, 1.5, float("1e308"), "", " ", "\x00", "\ufffd", "\u2028",
    "2026-13-45T99:99:99Z", "1e400", "ok", "error", "gpt-4o", "🙂" * 600, [], {}, [1, {"a": None}],
    "9" * 40, "-0", "NaN", "Infinity", "2026-10-01T00:00:00+14:00", 1_761_900_000,
]  # fmt: skip


def junk_record(rng: random.Random, i: int) -> Any:
    if rng.random() < 0.05:
        return rng.choice(JUNK)
    body = rec(i, "junk")
    for field in rng.sample(sorted(FIELDS), rng.randint(1, 4)):
        body[field] = rng.choice(JUNK)
    return body


async def test_random_junk_is_accounted_for_row_by_row_never_500(api: Api) -> None:
    rng = random.Random(20261125)
    records = [junk_record(rng, i) for i in range(400)]
    r = await api.client.post("/api/v1/usage", json={"records": records}, headers=api.bob)
    assert r.status_code == 200, r.text
    body = r.json()
    assert body["accepted"] + body["duplicates"] + body["rejected_count"] == 400
    assert body["rejected_count"] > 0 and body["accepted"] > 0

    rows = []
    for _ in range(300):
        cells = [str(rng.choice(JUNK)) for _ in range(rng.randint(0, 9))]
        rows.append(",".join(cells))
    header = "timestamp,provider,model,input_tokens,output_tokens,batch,status,latency_ms\n"
    blob = (header + "\n".join(rows) + "\n").encode() + bytes([0xFF, 0x0A])
    expected = sum(1 for row in rows if row.strip()) + 1  # blank lines are skipped
    up = await api.client.post(
        "/api/v1/usage/upload", files={"file": ("junk.csv", blob)}, headers=api.bob
    )
    assert up.status_code == 200, up.text
    got = up.json()
    assert got["accepted"] + got["duplicates"] + got["rejected_count"] == expected
    assert got["rejected"][-1]["line"] == len(rows) + 2  # the invalid UTF-8 line


async def test_concurrent_uploads_of_overlapping_files_keep_totals_exact(
    pg_settings,  # type: ignore[no-untyped-def]
) -> None:
    """Four clients upload overlapping slices of one file at once (small batches, so their
    transactions interleave): each request_id is stored once and the totals are exact."""
    roomy = pg_settings(uploads_user_free=4, uploads_org_free=4)  # four at once from one user
    async with running_app(create_app(roomy)) as client:
        who = bearer((await signup(client))["access_token"])
        header = "timestamp,provider,model,input_tokens,output_tokens,request_id\n"
        rows = [
            f"2026-10-07T00:00:{i % 60:02d}Z,openai,gpt-4o,{i},1,c-{i}\n" for i in range(12_000)
        ]
        slices = [rows[start : start + 6000] for start in (0, 2000, 4000, 6000)]

        async def upload(part: list[str]) -> dict[str, Any]:
            body = (header + "".join(part)).encode()
            r = await client.post(
                "/api/v1/usage/upload", files={"file": ("c.csv", body)}, headers=who
            )
            assert r.status_code == 200, r.text
            return dict(r.json())

        results = await asyncio.wait_for(asyncio.gather(*(upload(p) for p in slices)), 120)
        assert sum(r["accepted"] for r in results) == 12_000
        assert sum(r["accepted"] + r["duplicates"] for r in results) == 24_000
        r = await client.get("/api/v1/usage/summary", params={"group_by": "model"}, headers=who)
        (group,) = r.json()["groups"]
        assert group["records"] == 12_000
        assert group["input_tokens"] == sum(range(12_000))
