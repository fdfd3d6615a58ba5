"""OpenTelemetry spans as usage records: which spans are LLM calls, and what each attribute means.

Read by the OpenTelemetry GenAI semantic conventions (the current names and the older ones
instrumentations still emit), by OpenInference (``llm.token_count.*``) and by OpenLLMetry
(``llm.usage.*``, ``gen_ai.usage.prompt_tokens``). The first name present wins, in the order
listed below. Decisions (documented in docs/api-keys-and-otlp.md):

- An LLM span is one that names a model and says it is a model call: an OpenInference kind
  ``LLM``/``EMBEDDING``, or a GenAI operation, provider or token count. Agent, tool, workflow,
  retrieval and chain spans are *not* calls even when they carry summed token counts (counting
  them would count their child calls twice); neither is anything without a model.
- ``input_tokens`` counts every prompt token, cached ones included (the current GenAI
  convention). When the cache counts exceed the reported input, the input was reported without
  them (Anthropic's own convention, older instrumentations) and they are added.
- A failed call with no token counts is stored with zero tokens (it still was a call, and a
  retry storm is waste); a successful one without counts is refused, naming the attributes.
- ``request_id``: ``gen_ai.response.id``, else ``otel:<trace id>:<span id>``, so a batch that an
  exporter retries is stored once.
- ``feature``: the span's ``netra.feature``, else the resource's ``service.name`` (not the SDK's
  ``unknown_service`` placeholder).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

from netra.records.record import RowError, UsageRecord
from netra.usage.parse import parse_record

PROVIDER = ("gen_ai.provider.name", "gen_ai.system", "llm.provider", "llm.system")
MODEL = (
    "gen_ai.response.model",
    "gen_ai.request.model",
    "llm.response.model",
    "llm.request.model",
    "llm.model_name",
    "embedding.model_name",
)
INPUT = (
    "gen_ai.usage.input_tokens",
    "gen_ai.usage.prompt_tokens",
    "llm.token_count.prompt",
    "llm.usage.prompt_tokens",
)
OUTPUT = (
    "gen_ai.usage.output_tokens",
    "gen_ai.usage.completion_tokens",
    "llm.token_count.completion",
    "llm.usage.completion_tokens",
)
TOTAL = ("gen_ai.usage.total_tokens", "llm.usage.total_tokens", "llm.token_count.total")
CACHE_READ = (
    "gen_ai.usage.cache_read.input_tokens",
    "gen_ai.usage.cache_read_input_tokens",
    "gen_ai.usage.input_tokens.cached",
    "llm.token_count.prompt_details.cache_read",
)
CACHE_WRITE = (
    "gen_ai.usage.cache_creation.input_tokens",
    "gen_ai.usage.cache_creation_input_tokens",
    "gen_ai.usage.input_tokens.cache_write",
    "llm.token_count.prompt_details.cache_write",
)
CONVERSATION = ("gen_ai.conversation.id", "session.id")
USER = ("netra.user", "user.id", "enduser.id", "llm.user")
RESPONSE_ID = ("gen_ai.response.id",)
FEATURE = "netra.feature"
OPERATION = "gen_ai.operation.name"

# GenAI operations that are not themselves a model call (their token counts, when present,
# sum their children's).
_NOT_CALLS = frozenset(
    {
        "invoke_agent",
        "create_agent",
        "execute_tool",
        "invoke_workflow",
        "plan",
        "retrieval",
        "create_memory",
        "create_memory_store",
        "delete_memory",
        "delete_memory_store",
        "search_memory",
        "update_memory",
        "upsert_memory",
    }
)
_EMBEDDINGS = frozenset({"embeddings", "embedding"})
_OPENINFERENCE_CALLS = frozenset({"LLM", "EMBEDDING"})
_TRACELOOP_NOT_CALLS = frozenset({"workflow", "task", "agent", "tool"})

# OpenTelemetry / OpenInference provider names -> Netra's (the pricing catalogue's aliases).
PROVIDERS: dict[str, str] = {
    "aws.bedrock": "bedrock",
    "aws": "bedrock",
    "azure.ai.openai": "azure",
    "az.ai.openai": "azure",
    "azure.ai.inference": "azure",
    "az.ai.inference": "azure",
    "gcp.gemini": "google",
    "gcp.vertex_ai": "google",
    "gcp.gen_ai": "google",
    "gemini": "google",
    "vertex_ai": "google",
    "vertexai": "google",
    "mistral_ai": "mistral",
    "mistralai": "mistral",
    "x_ai": "x-ai",
    "xai": "x-ai",
    "ibm.watsonx.ai": "ibm",
}


@dataclass(frozen=True, slots=True)
class Span:
    """What the mapping needs of one OTLP span (decoded by ``otlp_wire``)."""

    name: str
    trace_id: str  # hex
    span_id: str  # hex
    start_ns: int
    end_ns: int
    error: bool  # status code ERROR
    attributes: Mapping[str, Any]
    resource: Mapping[str, Any] = field(default_factory=dict)

    def label(self) -> str:
        name = self.name if len(self.name) <= 80 else self.name[:77] + "..."
        return f"'{name}' (trace {self.trace_id or '-'}, span {self.span_id or '-'})"


def _first(attrs: Mapping[str, Any], names: Iterable[str]) -> Any:
    for name in names:
        value = attrs.get(name)
        if value is not None and value != "":
            return value
    return None


def _first_named(attrs: Mapping[str, Any], names: Iterable[str]) -> tuple[str, Any]:
    for name in names:
        value = attrs.get(name)
        if value is not None and value != "":
            return name, value
    return "", None


def is_llm_span(attrs: Mapping[str, Any]) -> bool:
    kind = attrs.get("openinference.span.kind")
    if kind is not None:
        return str(kind).upper() in _OPENINFERENCE_CALLS
    if str(attrs.get("traceloop.span.kind", "")).lower() in _TRACELOOP_NOT_CALLS:
        return False
    operation = attrs.get(OPERATION)
    if operation is not None and str(operation).lower() in _NOT_CALLS:
        return False
    if _first(attrs, MODEL) is None:
        return False
    return (
        operation is not None
        or "llm.request.type" in attrs
        or _first(attrs, PROVIDER) is not None
        or _first(attrs, INPUT + OUTPUT + TOTAL) is not None
    )


def provider_name(value: Any) -> str:
    key = str(value).strip().lower()
    return PROVIDERS.get(key, key)


def _status(span: Span) -> str:
    error_type = str(span.attributes.get("error.type") or "").lower()
    if not span.error and not error_type:
        return "ok"
    if "timeout" in error_type or "timed out" in error_type:
        return "timeout"
    if "429" in error_type or "ratelimit" in error_type.replace("_", ""):
        return "rate_limited"
    return "error"


def _count(name: str, value: Any) -> int:
    """A token count attribute: an integer (or integral double, or numeric string) >= 0."""
    if isinstance(value, bool):
        raise _Refused(name, "expected a token count, got a boolean")
    try:
        number = float(value)
    except (TypeError, ValueError):
        raise _Refused(name, f"expected a token count, got {value!r}") from None
    if not number.is_integer() or number < 0:
        raise _Refused(name, f"expected a token count >= 0, got {value!r}")
    return int(number)


class _Refused(Exception):
    def __init__(self, field: str | None, message: str) -> None:
        super().__init__(message)
        self.field = field
        self.message = message


def _tokens(span: Span, status: str) -> dict[str, int]:
    attrs = span.attributes
    in_name, raw_in = _first_named(attrs, INPUT)
    out_name, raw_out = _first_named(attrs, OUTPUT)
    total_name, raw_total = _first_named(attrs, TOTAL)
    embeddings = str(attrs.get(OPERATION, attrs.get("llm.request.type", ""))).lower()
    inputs = None if raw_in is None else _count(in_name, raw_in)
    outputs = None if raw_out is None else _count(out_name, raw_out)
    total = None if raw_total is None else _count(total_name, raw_total)
    if outputs is None and inputs is not None and total is not None and total >= inputs:
        outputs = total - inputs
    if inputs is None and outputs is not None and total is not None and total >= outputs:
        inputs = total - outputs
    if outputs is None and (
        embeddings in _EMBEDDINGS
        or str(attrs.get("openinference.span.kind", "")).upper() == "EMBEDDING"
    ):
        outputs = 0
    if inputs is None and outputs is None and status != "ok":
        inputs = outputs = 0  # a failed call that reported no usage
    if inputs is None:
        raise _Refused(INPUT[0], f"no input token count (expected one of {', '.join(INPUT)})")
    if outputs is None:
        raise _Refused(OUTPUT[0], f"no output token count (expected one of {', '.join(OUTPUT)})")
    read_name, raw_read = _first_named(attrs, CACHE_READ)
    write_name, raw_write = _first_named(attrs, CACHE_WRITE)
    cached = 0 if raw_read is None else _count(read_name, raw_read)
    writes = 0 if raw_write is None else _count(write_name, raw_write)
    if cached + writes > inputs:
        inputs += cached + writes  # reported without its cached part: add it back
    return {
        "input_tokens": inputs,
        "output_tokens": outputs,
        "cached_input_tokens": cached,
        "cache_write_tokens": writes,
    }


def _text(value: Any) -> str | None:
    if value is None:
        return None
    return str(value)


def span_fields(span: Span) -> dict[str, Any]:
    """The usage-record fields of an LLM span (raises ``_Refused`` for what cannot be one)."""
    attrs = span.attributes
    provider = _first(attrs, PROVIDER)
    if provider is None:
        raise _Refused(PROVIDER[0], f"no provider (expected one of {', '.join(PROVIDER)})")
    if span.start_ns <= 0:
        raise _Refused("timestamp", "the span has no start time")
    status = _status(span)
    fields: dict[str, Any] = {
        "timestamp": span.start_ns / 1e9,  # Unix seconds (microseconds kept in a double)
        "provider": provider_name(provider),
        "model": _text(_first(attrs, MODEL)),
        "status": status,
        **_tokens(span, status),
    }
    if span.end_ns >= span.start_ns:
        fields["latency_ms"] = (span.end_ns - span.start_ns) / 1e6
    service = _text(span.resource.get("service.name"))
    if service is not None and service.startswith("unknown_service"):
        service = None
    fields["feature"] = _text(attrs.get(FEATURE)) or service
    fields["user"] = _text(_first(attrs, USER))
    fields["conversation_id"] = _text(_first(attrs, CONVERSATION))
    fields["prompt_hash"] = _text(attrs.get("netra.prompt_hash"))
    fields["retry_of"] = _text(attrs.get("netra.retry_of"))
    response_id = _text(_first(attrs, RESPONSE_ID))
    fields["request_id"] = response_id or (
        f"otel:{span.trace_id}:{span.span_id}" if span.trace_id and span.span_id else None
    )
    return fields


def span_record(span: Span, position: int) -> UsageRecord | RowError:
    """One LLM span as a record, validated like every other ingest (``position``: its number
    among the request's LLM spans, used as the row's line)."""
    try:
        fields = span_fields(span)
    except _Refused as refused:
        return RowError(position, refused.field, refused.message)
    return parse_record(fields, position)


@dataclass
class SpanRows:
    """The LLM spans of a request as rows, and what was skipped."""

    rows: list[UsageRecord | RowError] = field(default_factory=list)
    labels: list[str] = field(default_factory=list)  # per row: which span it came from
    skipped: int = 0  # spans that are not LLM calls

    def label(self, line: int) -> str:
        return self.labels[line - 1] if 0 < line <= len(self.labels) else f"#{line}"


def spans_to_rows(spans: Iterable[Span]) -> SpanRows:
    out = SpanRows()
    for span in spans:
        if not is_llm_span(span.attributes):
            out.skipped += 1
            continue
        out.rows.append(span_record(span, len(out.rows) + 1))
        out.labels.append(span.label())
    return out
