"""``langfuse``: Langfuse observations, as the UI's export of the observations table (CSV or
JSON, camelCase names), the public API's ``{"data": [observations]}``, or the blob-storage
export (JSON Lines or CSV, snake_case names). Only generations are LLM calls: other
observation types (spans, events, tools...) are skipped and counted.

- ``input_tokens``: Langfuse's ``input`` usage excludes the cached and other detailed prompt
  tokens (its OpenAI mapping subtracts every ``prompt_tokens_details`` entry into its own
  ``input_*`` key; Anthropic's ``input_tokens`` already excludes ``cache_read_input_tokens`` and
  ``cache_creation_input_tokens``): they are added back. Cache reads are the ``input_cached_*``
  / ``cache_read*`` keys, cache writes the ``cache_creation*`` / ``cache_write*`` keys.
  ``output_tokens`` = ``output`` plus its ``output_*`` details (reasoning tokens).
- ``latency_ms`` = ``latency`` (seconds) x 1000, else end - start; ``status`` error when
  ``level`` is ``ERROR``; ``cost_usd`` = the total Langfuse computed (``costDetails.total``);
  ``provider`` from the model (its ``provider/`` prefix or the price catalogue) when the row
  names none; ``feature`` = the prompt name, else the trace name, else the observation name;
  ``user`` and ``conversation_id`` = the trace's user and session.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from typing import Any

from netra.records.record import RowError
from netra.usage.parse import Parsed
from netra.usage.sources.base import (
    FieldError,
    Notes,
    Unit,
    absent,
    count,
    first,
    nested,
    number,
    record,
    text,
    timestamp,
)
from netra.usage.sources.providers import provider_of_model, split_prefix
from netra.usage.sources.source import Source

_CAMEL = {
    "id",
    "traceId",
    "type",
    "name",
    "startTime",
    "endTime",
    "completionStartTime",
    "model",
    "providedModelName",
    "internalModelId",
    "modelId",
    "modelParameters",
    "input",
    "output",
    "metadata",
    "level",
    "statusMessage",
    "version",
    "parentObservationId",
    "promptId",
    "promptName",
    "promptVersion",
    "usage",
    "usageDetails",
    "costDetails",
    "unit",
    "promptTokens",
    "completionTokens",
    "totalTokens",
    "inputPrice",
    "outputPrice",
    "totalPrice",
    "calculatedInputCost",
    "calculatedOutputCost",
    "calculatedTotalCost",
    "inputCost",
    "outputCost",
    "totalCost",
    "latency",
    "timeToFirstToken",
    "environment",
    "projectId",
    "userId",
    "sessionId",
    "traceName",
    "traceTags",
    "tags",
    "release",
    "createdAt",
    "updatedAt",
    "bookmarked",
    "public",
    "provider",
}
_SNAKE = {
    "trace_id",
    "project_id",
    "start_time",
    "end_time",
    "completion_start_time",
    "provided_model_name",
    "internal_model_id",
    "model_parameters",
    "status_message",
    "parent_observation_id",
    "prompt_id",
    "prompt_name",
    "prompt_version",
    "usage_details",
    "provided_usage_details",
    "cost_details",
    "provided_cost_details",
    "total_cost",
    "user_id",
    "session_id",
    "trace_name",
    "trace_tags",
    "created_at",
    "updated_at",
    "event_ts",
    "is_deleted",
    "time_to_first_token",
}
_KNOWN = frozenset(_CAMEL | _SNAKE)
LLM_TYPES = frozenset({"generation", "embedding"})


class Langfuse(Source):
    name = "langfuse"
    title = "Langfuse observations export (generations; CSV, JSON or JSON Lines)"
    expects = "columns / keys id, traceId (or trace_id), type, startTime, model, usageDetails"
    known = _KNOWN

    def recognise(self, keys: frozenset[str], unit: Unit | None) -> bool:
        trace = "traceid" in keys or "trace_id" in keys
        start = "starttime" in keys or "start_time" in keys
        return trace and start and "type" in keys

    def rows(self, unit: Unit, notes: Notes) -> Iterator[Parsed]:
        row = unit.data
        if not row.keys() <= _KNOWN:
            notes.ignore(row, _KNOWN)
        kind = (text(row.get("type")) or "").lower()
        if kind not in LLM_TYPES:
            notes.skipped += 1
            return
        names = _NAMES_SNAKE if "start_time" in row else _NAMES_CAMEL
        try:
            mapping = _mapping(row, names)
        except FieldError as bad:
            yield RowError(unit.line, bad.field, bad.message)
            return
        yield record(mapping, unit.line, names)


def _mapping(row: Mapping[str, Any], names: Mapping[str, str]) -> dict[str, Any]:
    ts_name, ts = first(row, "startTime", "start_time")
    start = timestamp(ts, ts_name)
    usage_name, raw_usage = first(row, "usageDetails", "usage_details", "usage")
    usage = nested(raw_usage, usage_name)
    prompt, reads, writes, output = _tokens(usage, usage_name)
    if not usage:  # an export without the details: the flat counts
        prompt = count(first(row, "promptTokens", "prompt_tokens")[1], "promptTokens")
        output = count(first(row, "completionTokens", "completion_tokens")[1], "completionTokens")
    latency = _latency(row, start)
    model_name, raw_model = first(row, "model", "providedModelName", "provided_model_name")
    prefix, model = split_prefix(text(raw_model) or "")
    provider = text(row.get("provider")) or prefix
    metadata = nested(row.get("metadata"), "metadata") if _is_object(row.get("metadata")) else {}
    provider = provider or text(metadata.get("provider")) or text(metadata.get("ls_provider"))
    if provider is None and model:
        provider = provider_of_model(model)
        if provider is None:
            raise FieldError(model_name, f"cannot tell the provider of model {model!r}")
    cost_name, raw_cost = first(row, "costDetails", "cost_details")
    cost = nested(raw_cost, cost_name).get("total") if not absent(raw_cost) else None
    if absent(cost):
        cost = first(row, "calculatedTotalCost", "totalCost", "total_cost")[1]
    level = (text(row.get("level")) or "").upper()
    return {
        "timestamp": start,
        "provider": provider,
        "model": model,
        "input_tokens": prompt,
        "output_tokens": output,
        "cached_input_tokens": reads,
        "cache_write_tokens": writes,
        "latency_ms": latency,
        "status": "error" if level == "ERROR" else "ok",
        "cost_usd": number(cost, cost_name),
        "feature": text(first(row, "promptName", "prompt_name", "traceName", "trace_name")[1])
        or text(row.get("name")),
        "user": text(first(row, "userId", "user_id")[1]),
        "conversation_id": text(first(row, "sessionId", "session_id")[1]),
        "request_id": text(row.get("id")),
    }


def _is_object(value: Any) -> bool:
    return isinstance(value, Mapping) or (isinstance(value, str) and value.lstrip()[:1] == "{")


def _tokens(usage: Mapping[str, Any], field: str) -> tuple[int, int, int, int]:
    """(every prompt token, cache reads, cache writes, every output token) of usage details."""
    prompt = reads = writes = output = 0
    for key, value in usage.items():
        name = str(key).lower()
        n = count(value, f"{field}.{key}")
        if name in ("input", "prompt_tokens", "input_tokens"):
            prompt += n
        elif name in ("output", "completion_tokens", "output_tokens"):
            output += n
        elif name.startswith("output_"):
            output += n
        elif "cache_read" in name or name.startswith("input_cached"):
            prompt += n
            reads += n
        elif "cache_creation" in name or "cache_write" in name:
            prompt += n
            writes += n
        elif name.startswith("input_"):
            prompt += n
    return prompt, reads, writes, output


def _latency(row: Mapping[str, Any], start: Any) -> float | None:
    seconds = number(row.get("latency"), "latency")
    if seconds is not None:
        return seconds * 1000.0
    end_name, end = first(row, "endTime", "end_time")
    if absent(end):
        return None
    return max(0.0, (timestamp(end, end_name) - start).total_seconds() * 1000.0)


_NAMES_CAMEL = {
    "timestamp": "startTime",
    "provider": "model",
    "model": "model",
    "input_tokens": "usageDetails",
    "output_tokens": "usageDetails",
    "cached_input_tokens": "usageDetails",
    "cache_write_tokens": "usageDetails",
    "cost_usd": "costDetails",
    "feature": "promptName",
    "user": "userId",
    "conversation_id": "sessionId",
    "request_id": "id",
}
_NAMES_SNAKE = {
    **_NAMES_CAMEL,
    "timestamp": "start_time",
    "input_tokens": "usage_details",
    "output_tokens": "usage_details",
    "cached_input_tokens": "usage_details",
    "cache_write_tokens": "usage_details",
    "cost_usd": "cost_details",
    "feature": "prompt_name",
    "user": "user_id",
    "conversation_id": "session_id",
}

LANGFUSE = Langfuse()
