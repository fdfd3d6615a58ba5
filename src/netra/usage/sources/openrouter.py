"""``openrouter``: OpenRouter's activity export (Activity page, Export, CSV; the same rows as
JSON). One row per generation.

``provider`` is ``openrouter`` and ``model`` the ``model_permaslug``, so OpenRouter's own prices
apply (not the upstream provider's); ``cost_usd`` = ``cost_total`` as billed.
``input_tokens`` = ``tokens_prompt`` (it includes the cached tokens), ``cached_input_tokens`` =
``tokens_cached``, ``output_tokens`` = ``tokens_completion`` (reasoning included);
``latency_ms`` = ``generation_time_ms``; ``status`` error when the generation was cancelled or
finished with an error; ``feature`` = ``app_name``, else ``api_key_name``; ``user`` = ``user``.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from netra.usage.sources.base import (
    Unit,
    absent,
    text,
)
from netra.usage.sources.source import FlatSource

_KNOWN = frozenset(
    {
        "generation_id",
        "created_at",
        "cost_total",
        "cost_web_search",
        "cost_cache",
        "cost_file_processing",
        "byok_usage_inference",
        "tokens_prompt",
        "tokens_completion",
        "tokens_reasoning",
        "tokens_cached",
        "model_permaslug",
        "provider_name",
        "variant",
        "cancelled",
        "streamed",
        "user",
        "finish_reason_raw",
        "finish_reason_normalized",
        "generation_time_ms",
        "time_to_first_token_ms",
        "api_key_disabled",
        "api_key_name",
        "app_name",
        "num_search_results",
    }
)
_TRUE = frozenset({"true", "1", "yes", "t", "y"})


class OpenRouter(FlatSource):
    name = "openrouter"
    title = "OpenRouter activity export (CSV)"
    expects = "columns generation_id, created_at, model_permaslug, tokens_prompt, cost_total"
    known = _KNOWN

    def recognise(self, keys: frozenset[str], unit: Unit | None) -> bool:
        return {"generation_id", "model_permaslug", "tokens_prompt"} <= keys

    def mapping(self, row: Mapping[str, Any]) -> dict[str, Any]:
        return _mapping(row)

    def field_names(self) -> Mapping[str, str]:
        return _NAMES


def _mapping(row: Mapping[str, Any]) -> dict[str, Any]:
    cancelled = str(row.get("cancelled") or "").strip().lower() in _TRUE
    finish = (text(row.get("finish_reason_normalized")) or "").lower()
    return {
        "timestamp": row.get("created_at"),
        "provider": "openrouter",
        "model": row.get("model_permaslug"),
        "input_tokens": row.get("tokens_prompt"),
        "output_tokens": row.get("tokens_completion"),
        "cached_input_tokens": None if absent(row.get("tokens_cached")) else row["tokens_cached"],
        "latency_ms": row.get("generation_time_ms"),
        "status": "error" if cancelled or finish == "error" else "ok",
        "cost_usd": row.get("cost_total"),
        "feature": text(row.get("app_name")) or text(row.get("api_key_name")),
        "user": text(row.get("user")),
        "request_id": text(row.get("generation_id")),
    }


_NAMES = {
    "timestamp": "created_at",
    "model": "model_permaslug",
    "input_tokens": "tokens_prompt",
    "output_tokens": "tokens_completion",
    "cached_input_tokens": "tokens_cached",
    "latency_ms": "generation_time_ms",
    "cost_usd": "cost_total",
    "feature": "app_name",
    "user": "user",
    "request_id": "generation_id",
}

OPENROUTER = OpenRouter()
