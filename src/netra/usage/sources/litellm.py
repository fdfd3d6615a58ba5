"""``litellm``: the LiteLLM proxy's ``LiteLLM_SpendLogs`` table, exported as CSV (e.g.
``\\copy "LiteLLM_SpendLogs" TO 'spend.csv' CSV HEADER``) or JSON (the rows as an array or JSON
Lines, e.g. from ``GET /spend/logs``). One row per request.

- ``timestamp`` = ``startTime``; ``latency_ms`` = ``endTime`` - ``startTime``.
- ``provider`` = ``custom_llm_provider``, else the model's ``provider/`` prefix, else the model
  looked up in the price catalogue; ``model`` without that prefix.
- ``input_tokens`` = ``prompt_tokens`` (LiteLLM reports it OpenAI-style, cache reads and writes
  included); cache counts come from the metadata's ``usage_object``: reads
  ``cache_read_input_tokens`` or ``prompt_tokens_details.cached_tokens``, writes
  ``cache_creation_input_tokens``. A row whose cache counts exceed ``prompt_tokens`` (an older
  proxy that logged Anthropic's uncached count) gets them added.
- ``cost_usd`` = ``spend``; ``status`` from ``status`` (``failure`` -> error; the metadata's
  error class names rate limits and timeouts); ``user`` = ``end_user``, else ``user``;
  ``conversation_id`` = ``session_id``; ``feature`` = the first request tag, else the key alias.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from netra.usage.sources.base import (
    FieldError,
    Unit,
    absent,
    count,
    first,
    listed,
    nested,
    text,
    timestamp,
)
from netra.usage.sources.providers import provider_of_model, split_prefix
from netra.usage.sources.source import FlatSource

_KNOWN = frozenset(
    {
        "request_id",
        "call_type",
        "api_key",
        "spend",
        "total_tokens",
        "prompt_tokens",
        "completion_tokens",
        "startTime",
        "endTime",
        "completionStartTime",
        "model",
        "model_id",
        "model_group",
        "custom_llm_provider",
        "api_base",
        "user",
        "metadata",
        "cache_hit",
        "cache_key",
        "request_tags",
        "team_id",
        "organization_id",
        "end_user",
        "requester_ip_address",
        "messages",
        "response",
        "session_id",
        "status",
        "mcp_namespaced_tool_name",
        "agent_id",
        "proxy_server_request",
    }
)


class LiteLLM(FlatSource):
    name = "litellm"
    title = "LiteLLM proxy SpendLogs (CSV or JSON)"
    expects = "columns / keys request_id, call_type, spend, startTime, prompt_tokens, model"
    known = _KNOWN

    def recognise(self, keys: frozenset[str], unit: Unit | None) -> bool:
        return {"call_type", "spend", "starttime"} <= keys

    def mapping(self, row: Mapping[str, Any]) -> dict[str, Any]:
        return _mapping(row)

    def field_names(self) -> Mapping[str, str]:
        return _NAMES


def _mapping(row: Mapping[str, Any]) -> dict[str, Any]:
    start = timestamp(row.get("startTime"), "startTime")
    latency = None
    if not absent(row.get("endTime")):
        end = timestamp(row.get("endTime"), "endTime")
        latency = max(0.0, (end - start).total_seconds() * 1000.0)
    raw_model = text(row.get("model")) or ""
    prefix, model = split_prefix(raw_model)
    provider = text(row.get("custom_llm_provider")) or prefix or provider_of_model(model)
    if provider is None and raw_model:
        raise FieldError("custom_llm_provider", f"cannot tell the provider of model {raw_model!r}")
    metadata = nested(row.get("metadata"), "metadata")
    usage = nested(metadata.get("usage_object"), "metadata.usage_object")
    details = nested(usage.get("prompt_tokens_details"), "metadata.usage_object")
    prompt = count(row.get("prompt_tokens"), "prompt_tokens")
    _, reads = first(usage, "cache_read_input_tokens")
    reads_n = count(reads, "metadata.usage_object.cache_read_input_tokens") or count(
        details.get("cached_tokens"), "metadata.usage_object.prompt_tokens_details"
    )
    writes_n = count(usage.get("cache_creation_input_tokens"), "metadata.usage_object") or count(
        details.get("cache_creation_tokens"), "metadata.usage_object"
    )
    if reads_n + writes_n > prompt:
        prompt += reads_n + writes_n
    tags = listed(row.get("request_tags"), "request_tags")
    feature = tags[0] if tags else metadata.get("user_api_key_alias")
    return {
        "timestamp": start,
        "provider": provider,
        "model": model,
        "input_tokens": prompt,
        "output_tokens": row.get("completion_tokens"),
        "cached_input_tokens": reads_n,
        "cache_write_tokens": writes_n,
        "latency_ms": latency,
        "status": _status(row, metadata),
        "cost_usd": row.get("spend"),
        "feature": text(feature),
        "user": text(row.get("end_user")) or text(row.get("user")),
        "request_id": text(row.get("request_id")),
        "conversation_id": text(row.get("session_id")),
    }


def _status(row: Mapping[str, Any], metadata: Mapping[str, Any]) -> str:
    status = (text(row.get("status")) or "success").lower()
    if status in ("success", "ok"):
        return "ok"
    info = metadata.get("error_information")
    kind = str(info.get("error_class", "")) if isinstance(info, Mapping) else ""
    code = str(info.get("error_code", "")) if isinstance(info, Mapping) else ""
    if "RateLimit" in kind or code == "429":
        return "rate_limited"
    if "Timeout" in kind or code in ("408", "504"):
        return "timeout"
    return "error"


_NAMES = {
    "timestamp": "startTime",
    "provider": "custom_llm_provider",
    "model": "model",
    "input_tokens": "prompt_tokens",
    "output_tokens": "completion_tokens",
    "cached_input_tokens": "metadata.usage_object",
    "cache_write_tokens": "metadata.usage_object",
    "cost_usd": "spend",
    "feature": "request_tags",
    "user": "end_user",
    "request_id": "request_id",
    "conversation_id": "session_id",
}

LITELLM = LiteLLM()
