"""``helicone``: Helicone's request export (``npx @helicone/export``, JSON Lines, JSON or CSV;
the rows of ``POST /v1/request/query-clickhouse``). One row per request.

- ``timestamp`` = ``request_created_at``; ``latency_ms`` = ``latency`` or ``delay_ms``
  (milliseconds).
- ``model`` = ``model`` (else ``response_model``, ``request_model``); ``provider`` =
  ``provider`` (``OPENAI`` -> ``openai``), else from the model.
- Helicone stores ``prompt_tokens`` without the cache reads and writes it counts apart
  (``prompt_cache_read_tokens``, ``prompt_cache_write_tokens``): ``input_tokens`` adds them back.
- ``cost_usd`` = ``cost`` (or ``costUSD``), Helicone's computed cost; ``status`` from the HTTP
  ``status`` / ``response_status`` (429 rate limited, 408/504 timeout, other non-2xx error).
- ``user`` = ``user_id`` / ``request_user_id``; ``conversation_id`` = the
  ``Helicone-Session-Id`` property; ``feature`` = a ``feature`` property, else the prompt id.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from netra.usage.sources.base import (
    FieldError,
    Unit,
    count,
    first,
    nested,
    number,
    text,
)
from netra.usage.sources.providers import provider_of_model, split_prefix
from netra.usage.sources.source import FlatSource

_KNOWN = frozenset(
    {
        "response_id",
        "response_created_at",
        "response_body",
        "response_status",
        "response_model",
        "request_id",
        "request_created_at",
        "request_body",
        "request_path",
        "request_user_id",
        "request_properties",
        "request_model",
        "model_override",
        "helicone_user",
        "provider",
        "delay_ms",
        "latency",
        "status",
        "time_to_first_token",
        "total_tokens",
        "prompt_tokens",
        "prompt_cache_write_tokens",
        "prompt_cache_read_tokens",
        "completion_tokens",
        "prompt_audio_tokens",
        "completion_audio_tokens",
        "prompt_id",
        "prompt_version",
        "feedback_created_at",
        "feedback_id",
        "feedback_rating",
        "signed_body_url",
        "llmSchema",
        "country_code",
        "asset_ids",
        "asset_urls",
        "scores",
        "cost",
        "costUSD",
        "properties",
        "assets",
        "target_url",
        "model",
        "user_id",
        "organization_id",
        "proxy_key_id",
        "threat",
        "cache_reference_id",
        "cache_enabled",
        "updated_at",
        "request_referrer",
        "gateway_router_id",
        "gateway_deployment_target",
    }
)


class Helicone(FlatSource):
    name = "helicone"
    title = "Helicone request export (JSON Lines, JSON or CSV)"
    expects = "columns / keys request_id, request_created_at, prompt_tokens, completion_tokens"
    known = _KNOWN

    def recognise(self, keys: frozenset[str], unit: Unit | None) -> bool:
        return {"request_id", "request_created_at", "prompt_tokens"} <= keys

    def mapping(self, row: Mapping[str, Any]) -> dict[str, Any]:
        return _mapping(row)

    def field_names(self) -> Mapping[str, str]:
        return _NAMES


def _mapping(row: Mapping[str, Any]) -> dict[str, Any]:
    _, raw_model = first(row, "model", "response_model", "request_model")
    prefix, model = split_prefix(text(raw_model) or "")
    provider = (text(row.get("provider")) or "").lower() or prefix
    if not provider and model:
        provider = provider_of_model(model)
        if provider is None:
            raise FieldError("provider", f"cannot tell the provider of model {model!r}")
    prompt = count(row.get("prompt_tokens"), "prompt_tokens")
    reads = count(row.get("prompt_cache_read_tokens"), "prompt_cache_read_tokens")
    writes = count(row.get("prompt_cache_write_tokens"), "prompt_cache_write_tokens")
    latency_name, latency = first(row, "latency", "delay_ms")
    properties = nested(first(row, "properties", "request_properties")[1], "properties")
    lowered = {str(k).lower(): v for k, v in properties.items()}
    cost_name, cost = first(row, "cost", "costUSD")
    return {
        "timestamp": row.get("request_created_at"),
        "provider": provider,
        "model": model,
        "input_tokens": prompt + reads + writes,
        "output_tokens": row.get("completion_tokens"),
        "cached_input_tokens": reads,
        "cache_write_tokens": writes,
        "latency_ms": number(latency, latency_name),
        "status": _status(first(row, "status", "response_status")[1]),
        "cost_usd": number(cost, cost_name),
        "feature": text(lowered.get("feature")) or text(row.get("prompt_id")),
        "user": text(first(row, "user_id", "request_user_id", "helicone_user")[1]),
        "conversation_id": text(lowered.get("helicone-session-id")),
        "request_id": text(row.get("request_id")),
    }


def _status(value: Any) -> str:
    code = text(value)
    if code is None:
        return "ok"
    try:
        status = int(float(code))
    except ValueError:
        return "ok" if code.lower() in ("success", "ok") else "error"
    if 200 <= status < 300:
        return "ok"
    if status == 429:
        return "rate_limited"
    if status in (408, 504):
        return "timeout"
    return "error"


_NAMES = {
    "timestamp": "request_created_at",
    "provider": "provider",
    "model": "model",
    "input_tokens": "prompt_tokens",
    "output_tokens": "completion_tokens",
    "cached_input_tokens": "prompt_cache_read_tokens",
    "cache_write_tokens": "prompt_cache_write_tokens",
    "latency_ms": "latency",
    "cost_usd": "cost",
    "user": "user_id",
    "request_id": "request_id",
}

HELICONE = Helicone()
