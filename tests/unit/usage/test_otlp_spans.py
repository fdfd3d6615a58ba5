"""I11 (mapping): OpenTelemetry spans read as usage records by the GenAI semantic conventions
(current and older names), OpenInference and OpenLLMetry; what is not an LLM call is skipped."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import pytest

from netra.records.record import RowError, UsageRecord
from netra.usage.otlp_spans import Span, is_llm_span, span_record, spans_to_rows

START_NS = 1_764_000_000_123_000_000  # a fixed instant: the mapping never looks at the clock


def span(attrs: dict[str, Any], *, error: bool = False, **changes: Any) -> Span:
    values: dict[str, Any] = {
        "name": "chat gpt-4o",
        "trace_id": "0af7651916cd43dd8448eb211c80319c",
        "span_id": "b7ad6b7169203331",
        "start_ns": START_NS,
        "end_ns": START_NS + 1_250_000_000,
        "error": error,
        "attributes": attrs,
        "resource": {"service.name": "support-bot"},
    }
    values.update(changes)
    return Span(**values)


def record(attrs: dict[str, Any], **changes: Any) -> UsageRecord:
    out = span_record(span(attrs, **changes), 1)
    assert isinstance(out, UsageRecord), out
    return out


def test_current_genai_convention() -> None:
    r = record(
        {
            "gen_ai.operation.name": "chat",
            "gen_ai.provider.name": "openai",
            "gen_ai.request.model": "gpt-4o",
            "gen_ai.response.model": "gpt-4o-2024-08-06",
            "gen_ai.usage.input_tokens": 1200,
            "gen_ai.usage.output_tokens": 85,
            "gen_ai.usage.cache_read.input_tokens": 1024,
            "gen_ai.response.id": "chatcmpl-123",
            "gen_ai.conversation.id": "conv_5j66",
        }
    )
    assert (r.provider, r.model) == ("openai", "gpt-4o-2024-08-06")
    assert (r.input_tokens, r.output_tokens, r.cached_input_tokens) == (1200, 85, 1024)
    assert r.timestamp == datetime.fromtimestamp(START_NS / 1e9, tz=UTC)
    assert r.latency_ms == pytest.approx(1250.0)
    assert (r.request_id, r.conversation_id, r.feature) == (
        "chatcmpl-123",
        "conv_5j66",
        "support-bot",
    )
    assert r.status == "ok" and r.requests == 1


def test_older_genai_names_and_anthropic_style_input_without_its_cache() -> None:
    r = record(
        {
            "gen_ai.system": "anthropic",
            "gen_ai.request.model": "claude-sonnet-4-5",
            "gen_ai.usage.prompt_tokens": 40,  # uncached only, as Anthropic reports it
            "gen_ai.usage.completion_tokens": 300,
            "gen_ai.usage.cache_read_input_tokens": 5000,
            "gen_ai.usage.cache_creation_input_tokens": 700,
        }
    )
    assert r.provider == "anthropic" and r.model == "claude-sonnet-4-5"
    assert (r.input_tokens, r.cached_input_tokens, r.cache_write_tokens) == (5740, 5000, 700)
    assert r.output_tokens == 300


def test_openinference_llm_span() -> None:
    r = record(
        {
            "openinference.span.kind": "LLM",
            "llm.system": "openai",
            "llm.provider": "azure",
            "llm.model_name": "gpt-4o-mini",
            "llm.token_count.prompt": 900,
            "llm.token_count.completion": 40,
            "llm.token_count.total": 940,
            "llm.token_count.prompt_details.cache_read": 512,
            "session.id": "s-1",
            "user.id": "u-42",
        }
    )
    assert (r.provider, r.model) == ("azure", "gpt-4o-mini")  # who bills, not the API shape
    assert (r.input_tokens, r.output_tokens, r.cached_input_tokens) == (900, 40, 512)
    assert (r.conversation_id, r.user) == ("s-1", "u-42")


def test_openllmetry_span_with_only_a_total_for_the_output() -> None:
    r = record(
        {
            "gen_ai.system": "openai",
            "llm.request.type": "chat",
            "gen_ai.request.model": "gpt-4.1",
            "gen_ai.usage.prompt_tokens": 100,
            "llm.usage.total_tokens": 130,
            "llm.user": "u-7",
        }
    )
    assert (r.input_tokens, r.output_tokens, r.user) == (100, 30, "u-7")


@pytest.mark.parametrize(
    ("name", "provider"),
    [
        ("aws.bedrock", "bedrock"),
        ("azure.ai.openai", "azure"),
        ("az.ai.inference", "azure"),
        ("gcp.gemini", "google"),
        ("gcp.vertex_ai", "google"),
        ("mistral_ai", "mistral"),
        ("x_ai", "x-ai"),
        ("deepseek", "deepseek"),
    ],
)
def test_provider_names_become_netra_providers(name: str, provider: str) -> None:
    attrs = {"gen_ai.provider.name": name, "gen_ai.request.model": "m",
             "gen_ai.usage.input_tokens": 1, "gen_ai.usage.output_tokens": 1}  # fmt: skip
    assert record(attrs).provider == provider


@pytest.mark.parametrize(
    "attrs",
    [
        {"http.request.method": "GET", "url.full": "https://example.com"},
        {"db.system": "postgresql", "db.query.text": "select 1"},
        # Agent and tool spans sum their children's tokens: counting them would count twice.
        {"gen_ai.operation.name": "invoke_agent", "gen_ai.provider.name": "openai",
         "gen_ai.request.model": "gpt-4o", "gen_ai.usage.input_tokens": 5000,
         "gen_ai.usage.output_tokens": 900},
        {"gen_ai.operation.name": "execute_tool", "gen_ai.tool.name": "search"},
        {"openinference.span.kind": "CHAIN", "llm.model_name": "gpt-4o",
         "llm.token_count.prompt": 10, "llm.token_count.completion": 1},
        {"traceloop.span.kind": "workflow", "gen_ai.request.model": "gpt-4o",
         "gen_ai.system": "openai"},
        {"gen_ai.system": "openai"},  # no model: not a call Netra can price
        {"gen_ai.request.model": "gpt-4o"},  # a model named in passing, no call attributes
    ],
)  # fmt: skip
def test_spans_that_are_not_llm_calls_are_skipped(attrs: dict[str, Any]) -> None:
    assert not is_llm_span(attrs)
    rows = spans_to_rows([span(attrs)])
    assert rows.skipped == 1 and rows.rows == []


def test_failed_calls_keep_their_status_and_count_as_calls() -> None:
    base = {"gen_ai.operation.name": "chat", "gen_ai.provider.name": "openai",
            "gen_ai.request.model": "gpt-4o"}  # fmt: skip
    failed = record(base, error=True)
    assert (failed.status, failed.input_tokens, failed.output_tokens) == ("error", 0, 0)
    assert record({**base, "error.type": "timeout"}, error=True).status == "timeout"
    assert record({**base, "error.type": "429"}, error=True).status == "rate_limited"
    assert record({**base, "error.type": "openai.RateLimitError"}).status == "rate_limited"
    assert record({**base, "error.type": "APIConnectionError"}).status == "error"


def test_a_successful_call_without_token_counts_is_refused_naming_the_attribute() -> None:
    attrs = {"gen_ai.operation.name": "chat", "gen_ai.provider.name": "openai",
             "gen_ai.request.model": "gpt-4o", "gen_ai.usage.output_tokens": 3}  # fmt: skip
    out = span_record(span(attrs), 4)
    assert isinstance(out, RowError)
    assert (out.line, out.field) == (4, "gen_ai.usage.input_tokens")
    assert "gen_ai.usage.prompt_tokens" in out.message


@pytest.mark.parametrize(
    ("changes", "field"),
    [
        ({"gen_ai.usage.input_tokens": -1}, "gen_ai.usage.input_tokens"),
        ({"gen_ai.usage.input_tokens": True}, "gen_ai.usage.input_tokens"),
        ({"gen_ai.usage.output_tokens": "many"}, "gen_ai.usage.output_tokens"),
        ({"gen_ai.usage.output_tokens": 2.5}, "gen_ai.usage.output_tokens"),
        ({"gen_ai.provider.name": None}, "gen_ai.provider.name"),
        ({"gen_ai.request.model": "m" * 600}, "model"),
    ],
)
def test_bad_values_are_refused_with_their_field(changes: dict[str, Any], field: str) -> None:
    attrs = {"gen_ai.operation.name": "chat", "gen_ai.provider.name": "openai",
             "gen_ai.request.model": "gpt-4o", "gen_ai.usage.input_tokens": 10,
             "gen_ai.usage.output_tokens": 2, **changes}  # fmt: skip
    out = span_record(span(attrs), 1)
    assert isinstance(out, RowError) and out.field == field, out


def test_a_span_without_start_time_is_refused() -> None:
    attrs = {"gen_ai.provider.name": "openai", "gen_ai.request.model": "gpt-4o",
             "gen_ai.usage.input_tokens": 1, "gen_ai.usage.output_tokens": 1}  # fmt: skip
    out = span_record(span(attrs, start_ns=0, end_ns=0), 1)
    assert isinstance(out, RowError) and out.field == "timestamp"


def test_embeddings_have_no_output_tokens() -> None:
    r = record({"gen_ai.operation.name": "embeddings", "gen_ai.provider.name": "openai",
                "gen_ai.request.model": "text-embedding-3-small",
                "gen_ai.usage.input_tokens": 64})  # fmt: skip
    assert (r.input_tokens, r.output_tokens) == (64, 0)


def test_request_id_feature_and_netra_overrides() -> None:
    attrs = {"gen_ai.provider.name": "openai", "gen_ai.request.model": "gpt-4o",
             "gen_ai.usage.input_tokens": 1, "gen_ai.usage.output_tokens": 1}  # fmt: skip
    r = record(attrs)
    assert r.request_id == "otel:0af7651916cd43dd8448eb211c80319c:b7ad6b7169203331"
    r = record({**attrs, "netra.feature": "search", "netra.user": "u1",
                "netra.prompt_hash": "h1", "netra.retry_of": "otel:x:y"})  # fmt: skip
    assert (r.feature, r.user, r.prompt_hash, r.retry_of) == ("search", "u1", "h1", "otel:x:y")
    r = record(attrs, resource={"service.name": "unknown_service:python"})
    assert r.feature is None


def test_rows_keep_the_order_and_labels_of_the_llm_spans() -> None:
    llm = {"gen_ai.provider.name": "openai", "gen_ai.request.model": "gpt-4o",
           "gen_ai.usage.input_tokens": 1, "gen_ai.usage.output_tokens": 1}  # fmt: skip
    rows = spans_to_rows(
        [
            span({"http.route": "/"}),
            span(llm, name="first"),
            span({**llm, "gen_ai.usage.input_tokens": -5}, name="second"),
        ]
    )
    assert rows.skipped == 1 and len(rows.rows) == 2
    assert isinstance(rows.rows[0], UsageRecord) and isinstance(rows.rows[1], RowError)
    assert rows.rows[1].line == 2 and rows.label(2).startswith("'second'")
