"""Which provider serves a model, for exports that name only the model (Langfuse, LiteLLM's
un-prefixed models): an explicit ``provider/model`` prefix first, then the ``genai-prices``
catalogue's own model-matching rules."""

from __future__ import annotations

from functools import lru_cache

from genai_prices import data_snapshot

from netra.pricing.catalogue import normalize_provider

# The catalogue's provider ids where ours differ (see pricing.catalogue.CATALOGUE_PROVIDER).
_OURS = {"aws": "bedrock"}


def split_prefix(model: str) -> tuple[str | None, str]:
    """``anthropic/claude-3-5-sonnet`` -> (``anthropic``, ``claude-3-5-sonnet``)."""
    if "/" in model:
        prefix, rest = model.split("/", 1)
        if prefix and rest:
            return normalize_provider(prefix), rest
    return None, model


@lru_cache(maxsize=4096)
def provider_of_model(model: str) -> str | None:
    """The provider of ``model`` by the catalogue's matching rules, or None when unknown."""
    try:
        provider, _ = data_snapshot.get_snapshot().find_provider_model(model, None, None, None)
    except LookupError:
        return None
    return _OURS.get(provider.id, provider.id)
