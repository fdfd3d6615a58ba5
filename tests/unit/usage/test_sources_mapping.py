"""U12: per source, cached tokens, buckets (``requests``), latency units and batch flags map as
the source defines them (API.md "Usage sources"); a bad value is reported with its line and the
source's own field name."""

from __future__ import annotations

import json
from typing import Any

from netra.records.record import RowError, UsageRecord
from netra.usage.sources import UsageStream


def rows(body: bytes | str, name: str = "f") -> list[UsageRecord | RowError]:
    data = body.encode() if isinstance(body, str) else body
    parts = iter([data])
    return list(UsageStream(lambda: next(parts, None), filename=name))


def one(body: bytes | str) -> UsageRecord:
    [record] = rows(body)
    assert isinstance(record, UsageRecord), record
    return record


def jsonl(*objects: Any) -> str:
    return "".join(json.dumps(o) + "\n" for o in objects)


OAI_RESULT = {
    "object": "organization.usage.completions.result",
    "input_tokens": 5000,
    "output_tokens": 700,
    "input_cached_tokens": 3000,
    "num_model_requests": 12,
    "project_id": "proj_abc",
    "user_id": "user-1",
    "api_key_id": None,
    "model": "gpt-4o-2024-08-06",
    "batch": True,
}


def _page(*results: dict[str, Any]) -> dict[str, Any]:
    bucket = {"object": "bucket", "start_time": 1730419200, "end_time": 1730505600,
              "results": list(results)}  # fmt: skip
    return {"object": "page", "data": [bucket], "has_more": False}


def test_openai_usage_buckets_carry_their_request_count_and_cache_reads() -> None:
    record = one(json.dumps(_page(OAI_RESULT), indent=2))
    assert (record.requests, record.input_tokens, record.cached_input_tokens) == (12, 5000, 3000)
    assert record.batch is True and record.feature == "proj_abc" and record.user == "user-1"
    assert record.provider == "openai" and record.timestamp.timestamp() == 1730419200
    again = one(json.dumps(_page(OAI_RESULT)) + "\n")
    assert record.request_id == again.request_id  # the same bucket: stored once
    other = one(json.dumps(_page({**OAI_RESULT, "batch": False})))
    assert other.request_id != record.request_id


def test_openai_usage_without_the_model_grouping_names_the_field() -> None:
    [error] = rows(jsonl(_page({**OAI_RESULT, "model": None})))
    assert isinstance(error, RowError)
    assert (error.line, error.field) == (1, "data[0].results[0].model")
    assert "group_by=model" in error.message


def test_openai_dashboard_csv_reads_float_counts_and_skips_empty_buckets() -> None:
    csv_text = (
        "start_time,end_time,start_time_iso,end_time_iso,project_id,num_model_requests,user_id,"
        "api_key_id,model,batch,service_tier,input_tokens,output_tokens,input_cached_tokens\n"
        "1759622400,1759708800,2025-10-05T00:00:00+00:00,2025-10-06T00:00:00+00:00,proj_4B,10.0,"
        ",key_1,gpt-4o-2024-08-06,FALSE,default,59200.0,10646.0,5760.0\n"
        "1759881600,1759968000,2025-10-08T00:00:00+00:00,2025-10-09T00:00:00+00:00,,,,,,,,,,\n"
    )
    stream_rows = rows(csv_text, "completions_usage.csv")
    [record] = stream_rows
    assert isinstance(record, UsageRecord)
    assert (record.requests, record.input_tokens, record.output_tokens) == (10, 59200, 10646)
    assert record.cached_input_tokens == 5760 and record.batch is False


def _report(**result: Any) -> str:
    base = {
        "uncached_input_tokens": 1500,
        "cache_creation": {"ephemeral_1h_input_tokens": 1000, "ephemeral_5m_input_tokens": 500},
        "cache_read_input_tokens": 200,
        "output_tokens": 500,
        "model": "claude-sonnet-4-20250514",
        "service_tier": "standard",
        "workspace_id": "wrkspc_01",
        "context_window": "0-200k",
    }
    bucket = {"starting_at": "2025-08-01T00:00:00Z", "ending_at": "2025-08-02T00:00:00Z",
              "results": [{**base, **result}]}  # fmt: skip
    return json.dumps({"data": [bucket], "has_more": False, "next_page": None})


def test_anthropic_usage_adds_its_three_prompt_counts_and_keeps_the_one_hour_writes() -> None:
    record = one(_report())
    assert record.input_tokens == 1500 + 200 + 1000 + 500
    assert (record.cached_input_tokens, record.cache_write_tokens) == (200, 1500)
    assert record.cache_write_1h_tokens == 1000 and record.batch is False
    assert record.feature == "wrkspc_01" and record.provider == "anthropic"
    assert one(_report(service_tier="batch")).batch is True


def test_anthropic_context_window_decides_the_calls_and_so_the_long_context_tier() -> None:
    short = one(_report(uncached_input_tokens=950_000, context_window="0-200k"))
    assert short.requests == 5 and short.input_tokens / short.requests <= 200_000
    long = one(_report(uncached_input_tokens=950_000, context_window="200k-1M"))
    assert long.requests == 4 and long.input_tokens / long.requests > 200_000
    assert one(_report(context_window=None)).requests == 1


def _spend(**changes: Any) -> dict[str, Any]:
    row = {
        "request_id": "chatcmpl-1",
        "call_type": "acompletion",
        "spend": 0.0123,
        "prompt_tokens": 1200,
        "completion_tokens": 80,
        "startTime": "2026-04-16T12:00:00+00:00",
        "endTime": "2026-04-16T12:00:01.500000+00:00",
        "model": "anthropic/claude-3-5-haiku-20241022",
        "custom_llm_provider": "",
        "metadata": {
            "usage_object": {
                "prompt_tokens": 1200,
                "cache_read_input_tokens": 600,
                "cache_creation_input_tokens": 100,
            }
        },
        "request_tags": ["doc-qa"],
        "end_user": "cust-9",
        "session_id": "sess-1",
        "status": "success",
    }
    return {**row, **changes}


def test_litellm_spend_logs_map_latency_provider_cache_and_status() -> None:
    record = one(jsonl(_spend()))
    assert record.latency_ms == 1500.0 and record.provider == "anthropic"
    assert record.model == "claude-3-5-haiku-20241022"
    assert (record.input_tokens, record.cached_input_tokens, record.cache_write_tokens) == (
        1200,
        600,
        100,
    )
    assert record.cost_usd == 0.0123 and record.feature == "doc-qa" and record.user == "cust-9"
    assert record.conversation_id == "sess-1" and record.request_id == "chatcmpl-1"
    # An older proxy logged Anthropic's uncached prompt only: the cache counts are added.
    old = one(jsonl(_spend(prompt_tokens=50)))
    assert old.input_tokens == 750
    failed = one(jsonl(_spend(status="failure", metadata={"error_information": {
        "error_class": "RateLimitError"}})))  # fmt: skip
    assert failed.status == "rate_limited"


def test_langfuse_adds_back_the_cached_tokens_its_input_excludes() -> None:
    generation = {
        "id": "obs-1", "traceId": "t-1", "type": "GENERATION",
        "startTime": "2026-05-01T10:00:00.000Z", "endTime": "2026-05-01T10:00:02.000Z",
        "latency": 2.25, "model": "gpt-4o-mini",
        "usageDetails": {"input": 400, "input_cached_tokens": 600, "output": 90,
                         "output_reasoning_tokens": 30, "total": 1120},
        "costDetails": {"total": 0.00042}, "level": "DEFAULT", "promptName": "support",
        "userId": "u-1", "sessionId": "s-1",
    }  # fmt: skip
    span = {"id": "obs-2", "traceId": "t-1", "type": "SPAN", "startTime": "2026-05-01T10:00:00Z"}
    stream_rows = rows(jsonl(generation, span))
    [record] = stream_rows
    assert isinstance(record, UsageRecord)
    assert (record.input_tokens, record.cached_input_tokens, record.output_tokens) == (
        1000,
        600,
        120,
    )
    assert record.latency_ms == 2250.0 and record.provider == "openai"  # from the model
    assert record.cost_usd == 0.00042 and record.feature == "support"
    assert record.conversation_id == "s-1" and record.user == "u-1"
    anthropic = one(jsonl({**generation, "model": "claude-3-5-haiku-20241022", "latency": None,
        "usageDetails": {"input": 100, "cache_read_input_tokens": 800,
                         "cache_creation_input_tokens": 50, "output": 10}}))  # fmt: skip
    assert anthropic.input_tokens == 950 and anthropic.cache_write_tokens == 50
    assert anthropic.latency_ms == 2000.0 and anthropic.provider == "anthropic"


def test_helicone_adds_the_cache_counts_to_its_prompt_tokens() -> None:
    row = {
        "request_id": "r-1", "request_created_at": "2026-03-01T10:00:00Z",
        "response_status": 429, "provider": "ANTHROPIC", "model": "claude-3-5-haiku-20241022",
        "delay_ms": 830, "prompt_tokens": 100, "prompt_cache_read_tokens": 900,
        "prompt_cache_write_tokens": 20, "completion_tokens": 7, "cost": 0.0002,
        "request_properties": {"Helicone-Session-Id": "sess-7", "feature": "copilot"},
        "request_user_id": "member-1",
    }  # fmt: skip
    record = one(jsonl(row))
    assert (record.input_tokens, record.cached_input_tokens, record.cache_write_tokens) == (
        1020,
        900,
        20,
    )
    assert record.status == "rate_limited" and record.latency_ms == 830.0
    assert record.provider == "anthropic" and record.conversation_id == "sess-7"
    assert record.feature == "copilot" and record.user == "member-1"


def test_openrouter_rows_are_priced_as_openrouter_bills_them() -> None:
    csv_text = (
        "generation_id,created_at,cost_total,tokens_prompt,tokens_completion,tokens_reasoning,"
        "tokens_cached,model_permaslug,provider_name,cancelled,user,finish_reason_normalized,"
        "generation_time_ms,app_name\n"
        "gen-a,2026-04-13T10:00:00Z,0.12,1000,200,30,400,openai/gpt-4o-mini,OpenAI,false,u1,"
        "stop,1234,Cline\n"
        "gen-b,2026-04-13T11:00:00Z,0.34,15,25,4,2,anthropic/claude-3.7-sonnet,Anthropic,true,"
        "u2,stop,234,Cline\n"
    )
    first, second = rows(csv_text, "activity.csv")
    assert isinstance(first, UsageRecord) and isinstance(second, UsageRecord)
    assert (first.provider, first.model) == ("openrouter", "openai/gpt-4o-mini")
    assert (first.input_tokens, first.cached_input_tokens, first.output_tokens) == (1000, 400, 200)
    assert first.cost_usd == 0.12 and first.latency_ms == 1234.0 and first.feature == "Cline"
    assert first.status == "ok" and second.status == "error"  # cancelled


def test_a_bad_value_names_the_source_field_and_line() -> None:
    csv_text = (
        "generation_id,created_at,cost_total,tokens_prompt,tokens_completion,model_permaslug\n"
        "gen-a,2026-04-13T10:00:00Z,0.12,1000,200,openai/gpt-4o-mini\n"
        "gen-b,2026-04-13T10:00:00Z,0.12,lots,200,openai/gpt-4o-mini\n"
    )
    good, bad = rows(csv_text, "activity.csv")
    assert isinstance(good, UsageRecord)
    assert isinstance(bad, RowError) and (bad.line, bad.field) == (3, "tokens_prompt")
