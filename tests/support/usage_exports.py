"""Realistic exports of every usage source (laid out as each vendor documents them), with the
totals the source itself states, for the source tests and the upload benchmark.

Each builder takes the number of rows and a seed and returns an :class:`Export`: the file's
bytes, what a correct reading stores (rows, calls, tokens, cache reads, failures and, where the
export states it, the billed cost), and optionally one corrupt row with its line and field.
Dates are derived from now, so the files never depend on the day the tests run.
"""

from __future__ import annotations

import csv
import io
import json
import random
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any


@dataclass
class Expect:
    records: int = 0
    requests: int = 0
    input_tokens: int = 0
    output_tokens: int = 0
    cached_input_tokens: int = 0
    failed: int = 0
    cost_usd: float | None = 0.0  # None: the export states no cost (priced from the catalogue)
    batch: int = 0  # rows sent through a batch API

    def add(self, *, requests: int = 1, inp: int, out: int, cached: int = 0, **more: Any) -> None:
        self.records += 1
        self.requests += requests
        self.input_tokens += inp
        self.output_tokens += out
        self.cached_input_tokens += cached
        self.failed += int(bool(more.get("failed")))
        self.batch += int(bool(more.get("batch")))
        if self.cost_usd is not None:
            self.cost_usd += float(more.get("cost", 0.0))


@dataclass
class Export:
    source: str
    layout: str  # csv, jsonl, json
    filename: str
    body: bytes
    expect: Expect
    bad: tuple[int, str] | None = None  # (line, field) of the corrupt row
    extra_columns: list[str] = field(default_factory=list)


def _day0() -> datetime:
    now = datetime.now(UTC).replace(hour=0, minute=0, second=0, microsecond=0)
    return now - timedelta(days=20)


def _csv(header: list[str], rows: list[dict[str, Any]]) -> bytes:
    out = io.StringIO()
    writer = csv.DictWriter(out, fieldnames=header, lineterminator="\n")
    writer.writeheader()
    for row in rows:
        writer.writerow({k: _cell(v) for k, v in row.items()})
    return out.getvalue().encode()


def _cell(value: Any) -> Any:
    if isinstance(value, dict | list):
        return json.dumps(value)
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    return value


def _jsonl(objects: list[Any]) -> bytes:
    return "".join(json.dumps(o) + "\n" for o in objects).encode()


# ---- netra -------------------------------------------------------------------------------


def netra(n: int, seed: int, layout: str = "csv", corrupt: bool = False) -> Export:
    rng = random.Random(seed)
    day0 = _day0()
    expect = Expect()
    rows: list[dict[str, Any]] = []
    for i in range(n):
        inp = rng.randint(200, 8000)
        cached = rng.choice([0, 0, inp // 2])
        out = rng.randint(10, 900)
        failed = rng.random() < 0.05
        batch = rng.random() < 0.1
        cost = round(inp * 2.5e-6 + out * 1e-5, 8)
        row = {
            "timestamp": (day0 + timedelta(minutes=7 * i)).isoformat().replace("+00:00", "Z"),
            "provider": "openai",
            "model": rng.choice(["gpt-4o", "gpt-4o-mini"]),
            "input_tokens": inp,
            "output_tokens": out,
            "cached_input_tokens": cached,
            "status": "error" if failed else "ok",
            "cost_usd": cost,
            "feature": rng.choice(["chat", "search", "summaries"]),
            "user": f"u{rng.randint(1, 40)}",
            "request_id": f"netra-{seed}-{i}",
            "batch": batch,
            "conversation_id": f"c{i // 4}",
            "team": "core",  # an unknown column: listed once in ignored_fields
        }
        rows.append(row)
        expect.add(inp=inp, out=out, cached=cached, failed=failed, batch=batch, cost=cost)
    bad = None
    if corrupt:
        at = n // 2
        rows.insert(at, {**rows[0], "request_id": "netra-bad", "input_tokens": -5})
        bad = (at + 2 if layout == "csv" else at + 1, "input_tokens")
    if layout == "csv":
        body = _csv(list(rows[0]), rows)
    elif layout == "jsonl":
        body = _jsonl(rows)
    elif layout == "json":
        body = json.dumps(rows, indent=1).encode()
    else:
        body = json.dumps({"records": rows}).encode()
    ext = {"csv": "csv", "jsonl": "jsonl"}.get(layout, "json")
    return Export("netra", layout, f"netra.{ext}", body, expect, bad, ["team"])


# ---- openai-usage ------------------------------------------------------------------------

_OAI_MODELS = ["gpt-4o-2024-08-06", "gpt-4o-mini-2024-07-18", "o3-mini-2025-01-31"]


def _openai_results(
    rng: random.Random, n: int, expect: Expect
) -> list[tuple[int, list[dict[str, Any]]]]:
    """Daily buckets, each with results grouped by project, model and batch."""
    day0 = int(_day0().timestamp())
    buckets: list[tuple[int, list[dict[str, Any]]]] = []
    made = 0
    day = 0
    while made < n:
        start = day0 + 86_400 * day
        results = []
        for project in ("proj_chat", "proj_search"):
            for model in _OAI_MODELS:
                for batch in (False, True):
                    if made >= n or (batch and rng.random() < 0.5):
                        continue
                    requests = rng.randint(1, 400)
                    inp = requests * rng.randint(300, 6000)
                    cached = rng.randint(0, inp // 2)
                    out = requests * rng.randint(20, 800)
                    results.append(
                        {
                            "object": "organization.usage.completions.result",
                            "input_tokens": inp,
                            "output_tokens": out,
                            "input_cached_tokens": cached,
                            "input_audio_tokens": 0,
                            "output_audio_tokens": 0,
                            "num_model_requests": requests,
                            "project_id": project,
                            "user_id": None,
                            "api_key_id": None,
                            "model": model,
                            "batch": batch,
                            "service_tier": "default",
                        }
                    )
                    expect.add(requests=requests, inp=inp, out=out, cached=cached, batch=batch)
                    made += 1
        buckets.append((start, results))
        day += 1
    return buckets


def openai_usage(n: int, seed: int, layout: str = "json", corrupt: bool = False) -> Export:
    rng = random.Random(seed)
    expect = Expect(cost_usd=None)
    buckets = _openai_results(rng, n, expect)
    bad = None
    if layout == "csv":
        header = [
            "start_time", "end_time", "start_time_iso", "end_time_iso", "project_id",
            "num_model_requests", "user_id", "api_key_id", "model", "batch", "service_tier",
            "input_tokens", "output_tokens", "input_cached_tokens", "input_uncached_tokens",
            "input_text_tokens", "output_text_tokens", "input_cached_text_tokens",
            "input_audio_tokens", "input_cached_audio_tokens", "output_audio_tokens",
            "input_image_tokens", "input_cached_image_tokens", "output_image_tokens",
        ]  # fmt: skip
        rows: list[dict[str, Any]] = []
        for start, results in buckets:
            iso = datetime.fromtimestamp(start, UTC).isoformat()
            end_iso = datetime.fromtimestamp(start + 86_400, UTC).isoformat()
            for r in results:
                # The dashboard writes counts as floats and booleans in capitals.
                rows.append(
                    {
                        "start_time": start, "end_time": start + 86_400,
                        "start_time_iso": iso, "end_time_iso": end_iso,
                        "project_id": r["project_id"],
                        "num_model_requests": f"{r['num_model_requests']}.0",
                        "user_id": "", "api_key_id": "", "model": r["model"],
                        "batch": "TRUE" if r["batch"] else "FALSE", "service_tier": "default",
                        "input_tokens": f"{r['input_tokens']}.0",
                        "output_tokens": f"{r['output_tokens']}.0",
                        "input_cached_tokens": f"{r['input_cached_tokens']}.0",
                        "input_uncached_tokens": r["input_tokens"] - r["input_cached_tokens"],
                        "input_text_tokens": r["input_tokens"],
                        "output_text_tokens": r["output_tokens"],
                        "input_cached_text_tokens": r["input_cached_tokens"],
                        "input_audio_tokens": 0, "input_cached_audio_tokens": 0,
                        "output_audio_tokens": 0, "input_image_tokens": 0,
                        "input_cached_image_tokens": 0, "output_image_tokens": 0,
                    }
                )  # fmt: skip
            rows.append({"start_time": start, "end_time": start + 86_400})  # a quiet day
        if corrupt:
            rows.insert(3, {**rows[0], "num_model_requests": "lots", "model": "gpt-4.1"})
            bad = (5, "num_model_requests")
        return Export(
            "openai-usage", "csv", "completions_usage.csv", _csv(header, rows), expect, bad
        )
    data = [
        {"object": "bucket", "start_time": s, "end_time": s + 86_400, "results": results}
        for s, results in buckets
    ]
    if corrupt:
        data[1]["results"].insert(0, {**data[1]["results"][0], "input_tokens": "x", "model": "m"})
    if layout == "jsonl":  # pages of 7 buckets, one per line
        pages = [
            {"object": "page", "data": data[i : i + 7], "has_more": i + 7 < len(data)}
            for i in range(0, len(data), 7)
        ]
        bad = (1, "data[1].results[0].input_tokens") if corrupt else None
        return Export("openai-usage", "jsonl", "usage.jsonl", _jsonl(pages), expect, bad)
    page = {"object": "page", "data": data, "has_more": False, "next_page": None}
    bad = (2, "data[1].results[0].input_tokens") if corrupt else None
    body = json.dumps(page, indent=2).encode()
    return Export("openai-usage", "json", "usage.json", body, expect, bad)


def openai_costs() -> bytes:
    page = {
        "object": "page",
        "data": [
            {
                "object": "bucket",
                "start_time": 1730419200,
                "end_time": 1730505600,
                "results": [
                    {
                        "object": "organization.costs.result",
                        "amount": {"value": 0.06, "currency": "usd"},
                        "line_item": None,
                        "project_id": None,
                    }
                ],
            }
        ],
        "has_more": False,
    }
    return json.dumps(page).encode()


# ---- anthropic-usage ---------------------------------------------------------------------


def anthropic_usage(n: int, seed: int, layout: str = "json", corrupt: bool = False) -> Export:
    rng = random.Random(seed)
    expect = Expect(cost_usd=None)
    day0 = _day0()
    buckets = []
    made = 0
    day = 0
    while made < n:
        results = []
        for workspace in ("wrkspc_support", "wrkspc_research"):
            for model in ("claude-sonnet-4-5-20250929", "claude-3-5-haiku-20241022"):
                for tier in ("standard", "batch"):
                    if made >= n:
                        continue
                    uncached = rng.randint(10_000, 150_000)
                    reads = rng.randint(0, 80_000)
                    five = rng.randint(0, 20_000)
                    hour = rng.choice([0, rng.randint(0, 10_000)])
                    out = rng.randint(1_000, 40_000)
                    results.append(
                        {
                            "uncached_input_tokens": uncached,
                            "cache_creation": {
                                "ephemeral_1h_input_tokens": hour,
                                "ephemeral_5m_input_tokens": five,
                            },
                            "cache_read_input_tokens": reads,
                            "output_tokens": out,
                            "server_tool_use": {"web_search_requests": 0},
                            "api_key_id": None,
                            "workspace_id": workspace,
                            "model": model,
                            "service_tier": tier,
                            "context_window": "0-200k",
                        }
                    )
                    prompt = uncached + reads + five + hour
                    calls = -(-prompt // 200_000)
                    expect.add(
                        requests=calls, inp=prompt, out=out, cached=reads, batch=tier == "batch"
                    )
                    made += 1
        start = day0 + timedelta(days=day)
        buckets.append(
            {
                "starting_at": start.isoformat().replace("+00:00", "Z"),
                "ending_at": (start + timedelta(days=1)).isoformat().replace("+00:00", "Z"),
                "results": results,
            }
        )
        day += 1
    bad = None
    if corrupt:
        buckets[2]["results"].append(
            {**buckets[2]["results"][0], "output_tokens": -1, "model": "x"}
        )
        bad = (3, f"results[{len(buckets[2]['results']) - 1}].output_tokens")
    if layout == "jsonl":
        pages = [
            {"data": buckets[i : i + 7], "has_more": i + 7 < len(buckets), "next_page": None}
            for i in range(0, len(buckets), 7)
        ]
        if corrupt:
            bad = (1, f"data[2].results[{len(buckets[2]['results']) - 1}].output_tokens")
        return Export("anthropic-usage", "jsonl", "report.jsonl", _jsonl(pages), expect, bad)
    report = {"data": buckets, "has_more": False, "next_page": None}
    if corrupt:
        bad = (3, f"data[2].results[{len(buckets[2]['results']) - 1}].output_tokens")
    return Export(
        "anthropic-usage", "json", "report.json", json.dumps(report).encode(), expect, bad
    )


def anthropic_costs() -> bytes:
    report = {
        "data": [
            {
                "starting_at": "2025-08-01T00:00:00Z",
                "ending_at": "2025-08-02T00:00:00Z",
                "results": [
                    {
                        "currency": "USD",
                        "amount": "123.78912",
                        "workspace_id": None,
                        "description": "Claude Sonnet 4 Usage - Input Tokens",
                        "cost_type": "tokens",
                        "context_window": "0-200k",
                        "model": "claude-sonnet-4-20250514",
                        "service_tier": "standard",
                        "token_type": "uncached_input_tokens",
                    }
                ],
            }
        ],
        "has_more": False,
        "next_page": None,
    }
    return json.dumps(report).encode()


# ---- litellm -----------------------------------------------------------------------------


def litellm(n: int, seed: int, layout: str = "csv", corrupt: bool = False) -> Export:
    rng = random.Random(seed)
    expect = Expect()
    day0 = _day0()
    rows = []
    for i in range(n):
        anthropic = rng.random() < 0.4
        prompt = rng.randint(100, 9000)
        reads = rng.choice([0, prompt // 3])
        writes = rng.choice([0, 0, prompt // 10]) if anthropic else 0
        out = rng.randint(5, 700)
        failed = rng.random() < 0.06
        spend = 0.0 if failed else round(prompt * 3e-6 + out * 1.5e-5, 8)
        start = day0 + timedelta(seconds=137 * i)
        usage: dict[str, Any] = {
            "prompt_tokens": prompt,
            "completion_tokens": out,
            "total_tokens": prompt + out,
        }
        if anthropic:
            usage |= {"cache_read_input_tokens": reads, "cache_creation_input_tokens": writes}
        else:
            usage["prompt_tokens_details"] = {"cached_tokens": reads}
        metadata: dict[str, Any] = {"user_api_key_alias": "prod-key", "usage_object": usage}
        if failed:
            metadata["error_information"] = {"error_class": "RateLimitError", "error_code": "429"}
        rows.append(
            {
                "request_id": f"chatcmpl-{seed}-{i}",
                "call_type": "acompletion",
                "api_key": "88dc28d0f030c55ed4ab77ed8faf098196cb1c05df778539800c9f1243fe6b4b",
                "spend": spend,
                "total_tokens": prompt + out,
                "prompt_tokens": prompt,
                "completion_tokens": out,
                "startTime": start.isoformat(),
                "endTime": (start + timedelta(milliseconds=rng.randint(300, 9000))).isoformat(),
                "model": "claude-3-5-haiku-20241022" if anthropic else "gpt-4o-mini",
                "model_group": "fast",
                "custom_llm_provider": "anthropic" if anthropic else "openai",
                "api_base": "",
                "user": "",
                "metadata": metadata,
                "cache_hit": "False",
                "cache_key": "",
                "request_tags": [rng.choice(["support-bot", "doc-qa"])],
                "team_id": None,
                "end_user": f"cust-{rng.randint(1, 30)}",
                "session_id": f"sess-{i // 5}",
                "status": "failure" if failed else "success",
            }
        )
        expect.add(inp=prompt, out=out, cached=reads, failed=failed, cost=spend)
    bad = None
    if corrupt:
        rows.insert(7, {**rows[0], "request_id": "bad", "startTime": "yesterday"})
        bad = (9 if layout == "csv" else 8, "startTime")
    if layout == "csv":
        return Export("litellm", "csv", "spend_logs.csv", _csv(list(rows[0]), rows), expect, bad)
    return Export("litellm", "json", "spend_logs.json", json.dumps(rows).encode(), expect, bad)


# ---- langfuse ----------------------------------------------------------------------------


def langfuse(n: int, seed: int, layout: str = "csv", corrupt: bool = False) -> Export:
    """``csv``: the UI export (camelCase, usage as JSON text); ``jsonl``: the blob export."""
    rng = random.Random(seed)
    expect = Expect()
    day0 = _day0()
    rows = []
    for i in range(n):
        start = day0 + timedelta(seconds=211 * i)
        if i % 4 == 3:  # a span around the generations: not an LLM call
            rows.append({"id": f"span-{i}", "type": "SPAN", "start": start, "name": "retrieve"})
            continue
        anthropic = rng.random() < 0.3
        total_prompt = rng.randint(300, 7000)
        cached = rng.choice([0, total_prompt // 2])
        out = rng.randint(10, 600)
        reasoning = 0 if anthropic else rng.choice([0, out // 4])
        if anthropic:
            usage = {"input": total_prompt - cached, "cache_read_input_tokens": cached,
                     "output": out, "total": total_prompt + out}  # fmt: skip
            model = "claude-3-5-haiku-20241022"
        else:  # Langfuse subtracts every prompt/completion detail into its own key
            usage = {"input": total_prompt - cached, "input_cached_tokens": cached,
                     "output": out - reasoning, "output_reasoning_tokens": reasoning,
                     "total": total_prompt + out}  # fmt: skip
            model = "gpt-4o-mini"
        cost = round(total_prompt * 1.5e-7 + out * 6e-7, 10)
        failed = rng.random() < 0.05
        latency = round(rng.uniform(0.3, 6.0), 3)
        rows.append(
            {
                "id": f"gen-{seed}-{i}",
                "type": "GENERATION",
                "start": start,
                "end": start + timedelta(seconds=latency),
                "latency": latency,
                "name": "answer",
                "model": model,
                "usage": usage,
                "cost": {"input": cost / 2, "output": cost / 2, "total": cost},
                "level": "ERROR" if failed else "DEFAULT",
                "promptName": rng.choice(["support-answer", "summarise"]),
                "userId": f"user-{rng.randint(1, 25)}",
                "sessionId": f"session-{i // 6}",
                "traceId": f"trace-{i // 2}",
            }
        )
        expect.add(inp=total_prompt, out=out, cached=cached, failed=failed, cost=cost)
    bad = None
    if corrupt:
        broken = next(r for r in rows if r["type"] == "GENERATION")
        rows.insert(5, {**broken, "id": "bad", "usage": {"input": "lots", "output": 1}})
    if layout == "csv":
        header = ["id", "traceId", "type", "name", "startTime", "endTime", "model", "level",
                  "latency", "usageDetails", "costDetails", "promptName", "userId", "sessionId",
                  "environment", "tags"]  # fmt: skip
        out_rows = []
        for r in rows:
            out_rows.append(
                {
                    "id": r["id"], "traceId": r.get("traceId", "trace-x"), "type": r["type"],
                    "name": r["name"], "startTime": r["start"].isoformat(),
                    "endTime": (r.get("end") or r["start"]).isoformat(),
                    "model": r.get("model"), "level": r.get("level", "DEFAULT"),
                    "latency": r.get("latency"), "usageDetails": r.get("usage") or {},
                    "costDetails": r.get("cost") or {}, "promptName": r.get("promptName"),
                    "userId": r.get("userId"), "sessionId": r.get("sessionId"),
                    "environment": "production", "tags": ["prod"],
                }
            )  # fmt: skip
        bad = (7, "usageDetails.input") if corrupt else None
        out_rows[0]["releaseChannel"] = "beta"  # an unknown column
        header.append("releaseChannel")
        return Export("langfuse", "csv", "observations.csv", _csv(header, out_rows), expect, bad,
                      ["releaseChannel"])  # fmt: skip
    objects = []
    for r in rows:
        objects.append(
            {
                "id": r["id"], "trace_id": r.get("traceId", "trace-x"), "project_id": "proj",
                "type": r["type"], "name": r["name"],
                "start_time": r["start"].strftime("%Y-%m-%d %H:%M:%S.%f"),
                "end_time": (r.get("end") or r["start"]).strftime("%Y-%m-%d %H:%M:%S.%f"),
                "provided_model_name": r.get("model"), "level": r.get("level", "DEFAULT"),
                "usage_details": r.get("usage") or {}, "cost_details": r.get("cost") or {},
                "prompt_name": r.get("promptName"), "user_id": r.get("userId"),
                "session_id": r.get("sessionId"), "environment": "production",
            }
        )  # fmt: skip
    bad = (6, "usage_details.input") if corrupt else None
    return Export("langfuse", "jsonl", "observations.jsonl", _jsonl(objects), expect, bad)


# ---- helicone ----------------------------------------------------------------------------


def helicone(n: int, seed: int, layout: str = "jsonl", corrupt: bool = False) -> Export:
    rng = random.Random(seed)
    expect = Expect()
    day0 = _day0()
    rows = []
    for i in range(n):
        anthropic = rng.random() < 0.35
        prompt = rng.randint(100, 5000)  # Helicone's prompt_tokens: without the cache counts
        reads = rng.choice([0, rng.randint(100, 3000)])
        writes = rng.choice([0, 0, rng.randint(50, 500)]) if anthropic else 0
        out = rng.randint(5, 500)
        status = rng.choices([200, 429, 500], weights=[92, 5, 3])[0]
        cost = round((prompt + reads + writes) * 1e-6 + out * 4e-6, 9)
        rows.append(
            {
                "response_id": f"resp-{i}",
                "response_created_at": (day0 + timedelta(seconds=97 * i + 2)).isoformat(),
                "response_status": status,
                "response_model": "claude-3-5-haiku-20241022" if anthropic else "gpt-4o-mini",
                "request_id": f"hel-{seed}-{i}",
                "request_created_at": (day0 + timedelta(seconds=97 * i)).isoformat(),
                "request_path": "/v1/chat/completions",
                "request_user_id": f"member-{rng.randint(1, 20)}",
                "request_properties": {
                    "Helicone-Session-Id": f"s-{i // 3}",
                    "feature": rng.choice(["onboarding", "copilot"]),
                },
                "request_model": "claude-3-5-haiku-20241022" if anthropic else "gpt-4o-mini",
                "provider": "ANTHROPIC" if anthropic else "OPENAI",
                "delay_ms": rng.randint(200, 7000),
                "time_to_first_token": rng.randint(50, 900),
                "total_tokens": prompt + reads + writes + out,
                "prompt_tokens": prompt,
                "prompt_cache_write_tokens": writes,
                "prompt_cache_read_tokens": reads,
                "completion_tokens": out,
                "cost": cost,
                "country_code": "DE",
                "model": "claude-3-5-haiku-20241022" if anthropic else "gpt-4o-mini",
                "cache_enabled": False,
            }
        )
        expect.add(inp=prompt + reads + writes, out=out, cached=reads, failed=status != 200,
                   cost=cost)  # fmt: skip
    bad = None
    if corrupt:
        rows.insert(4, {**rows[0], "request_id": "bad", "request_created_at": ""})
        bad = (5 if layout == "jsonl" else 6, "request_created_at")
    if layout == "csv":
        body = _csv(list(rows[0]), rows)
        return Export("helicone", "csv", "helicone.csv", body, expect, bad, [])
    return Export("helicone", "jsonl", "helicone.jsonl", _jsonl(rows), expect, bad)


# ---- openrouter --------------------------------------------------------------------------


def openrouter(n: int, seed: int, layout: str = "csv", corrupt: bool = False) -> Export:
    rng = random.Random(seed)
    expect = Expect()
    day0 = _day0()
    rows = []
    for i in range(n):
        prompt = rng.randint(100, 12000)
        cached = rng.choice([0, 0, prompt // 2])
        out = rng.randint(5, 1500)
        cancelled = rng.random() < 0.04
        cost = round(prompt * 3e-6 + out * 1.5e-5, 7)
        rows.append(
            {
                "generation_id": f"gen-{seed}-{i}",
                "created_at": (day0 + timedelta(seconds=173 * i)).isoformat(),
                "cost_total": cost,
                "cost_web_search": 0,
                "cost_cache": 0,
                "cost_file_processing": 0,
                "byok_usage_inference": 0,
                "tokens_prompt": prompt,
                "tokens_completion": out,
                "tokens_reasoning": out // 5,
                "tokens_cached": cached,
                "model_permaslug": rng.choice(
                    ["anthropic/claude-3.7-sonnet-20250219", "openai/gpt-4o-mini-2024-07-18"]
                ),
                "provider_name": rng.choice(["Anthropic", "OpenAI", "Google"]),
                "variant": "standard",
                "cancelled": cancelled,
                "streamed": True,
                "user": f"u{rng.randint(1, 9)}",
                "finish_reason_raw": "stop",
                "finish_reason_normalized": "stop",
                "generation_time_ms": rng.randint(400, 20000),
                "time_to_first_token_ms": rng.randint(100, 2000),
                "api_key_disabled": False,
                "api_key_name": "Primary",
                "app_name": rng.choice(["Cline", "My App"]),
            }
        )
        expect.add(inp=prompt, out=out, cached=cached, failed=cancelled, cost=cost)
    bad = None
    if corrupt:
        rows.insert(9, {**rows[0], "generation_id": "bad", "tokens_prompt": "many"})
        bad = (11, "tokens_prompt")
    return Export("openrouter", "csv", "openrouter_activity.csv", _csv(list(rows[0]), rows),
                  expect, bad)  # fmt: skip


Builder = Callable[..., Export]
# Every source and layout the tests upload: (builder, layout).
ALL: list[tuple[Builder, str]] = [
    (netra, "csv"),
    (netra, "jsonl"),
    (netra, "json"),
    (netra, "records"),
    (openai_usage, "json"),
    (openai_usage, "jsonl"),
    (openai_usage, "csv"),
    (anthropic_usage, "json"),
    (anthropic_usage, "jsonl"),
    (litellm, "csv"),
    (litellm, "json"),
    (langfuse, "csv"),
    (langfuse, "jsonl"),
    (helicone, "jsonl"),
    (helicone, "csv"),
    (openrouter, "csv"),
]
