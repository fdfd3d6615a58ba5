"""Model knowledge the detectors use, as data: capability tiers and cross-provider equivalents.

``TIERS``: per provider, model refs (any alias the catalogue resolves) by capability tier,
1 = small/fast ... 4 = frontier. Right-sizing only ever proposes a model of the same provider
from the tier just below. A model missing here is never right-sized (unknown capability).

``EQUIVALENTS``: the same model weights sold by several providers (or endpoints); provider
arbitrage compares a model only within its group.
"""

from __future__ import annotations

from functools import cached_property

from netra.pricing.catalogue import Catalogue

_OPENAI_TIERS: dict[int, tuple[str, ...]] = {
    1: ("gpt-4.1-nano", "gpt-5-nano"),
    2: ("gpt-4o-mini", "gpt-4.1-mini", "gpt-5-mini"),
    3: ("gpt-4o", "gpt-4.1", "gpt-5", "gpt-4-turbo"),
    4: ("o1", "o3"),
}
TIERS: dict[str, dict[int, tuple[str, ...]]] = {
    "openai": _OPENAI_TIERS,
    "azure": _OPENAI_TIERS,
    "anthropic": {
        2: ("claude-haiku-4-5",),
        3: ("claude-sonnet-4-0", "claude-sonnet-4-5", "claude-3-7-sonnet-latest"),
        4: ("claude-opus-4-1", "claude-opus-4-5"),
    },
    "bedrock": {
        2: (
            "global.anthropic.claude-haiku-4-5-20251001-v1:0",
            "anthropic.claude-haiku-4-5-20251001-v1:0",
        ),
        3: (
            "global.anthropic.claude-sonnet-4-5-20250929-v1:0",
            "anthropic.claude-sonnet-4-5-20250929-v1:0",
        ),
    },
    "google": {
        1: ("gemini-2.5-flash-lite", "gemini-2.0-flash-lite"),
        2: ("gemini-2.5-flash", "gemini-2.0-flash"),
        3: ("gemini-2.5-pro",),
    },
    "mistral": {
        1: ("mistral-small-latest", "ministral-8b-latest"),
        2: ("mistral-medium-latest",),
        3: ("mistral-large-latest",),
    },
}

EQUIVALENTS: tuple[tuple[tuple[str, str], ...], ...] = (
    (
        ("anthropic", "claude-sonnet-4-5"),
        ("bedrock", "global.anthropic.claude-sonnet-4-5-20250929-v1:0"),
        ("bedrock", "anthropic.claude-sonnet-4-5-20250929-v1:0"),
        ("google", "claude-sonnet-4-5"),
    ),
    (
        ("anthropic", "claude-haiku-4-5"),
        ("bedrock", "global.anthropic.claude-haiku-4-5-20251001-v1:0"),
        ("bedrock", "anthropic.claude-haiku-4-5-20251001-v1:0"),
    ),
    (("openai", "gpt-4o"), ("azure", "gpt-4o")),
    (("openai", "gpt-4o-mini"), ("azure", "gpt-4o-mini")),
    (("openai", "gpt-4.1"), ("azure", "gpt-4.1")),
    (("openai", "gpt-4.1-mini"), ("azure", "gpt-4.1-mini")),
    (("openai", "gpt-4.1-nano"), ("azure", "gpt-4.1-nano")),
    (
        ("groq", "llama-3.3-70b-versatile"),
        ("cerebras", "llama-3.3-70b"),
        ("novita", "meta-llama/llama-3.3-70b-instruct"),
    ),
)


class ModelMap:
    """TIERS and EQUIVALENTS resolved to catalogue ids (done lazily, once per engine run)."""

    def __init__(self, catalogue: Catalogue) -> None:
        self._catalogue = catalogue

    @cached_property
    def tiers(self) -> dict[tuple[str, str], int]:
        out: dict[tuple[str, str], int] = {}
        for provider, levels in TIERS.items():
            for tier, refs in levels.items():
                for ref in refs:
                    model_id = self._catalogue.resolve(provider, ref)
                    if model_id is not None:
                        out.setdefault((provider, model_id), tier)
        return out

    def tier(self, provider: str, model: str) -> int | None:
        return self.tiers.get((provider, model))

    def lighter(self, provider: str, model: str) -> list[str]:
        """Models of the same provider one tier below ``model`` (empty when none/unknown)."""
        tier = self.tier(provider, model)
        if tier is None:
            return []
        below = {
            m
            for (p, m), t in self.tiers.items()
            if p == provider and t == tier - 1 and not self._deprecated(p, m)
        }
        return sorted(below)

    def _deprecated(self, provider: str, model: str) -> bool:
        info = self._catalogue.model_info(provider, model)
        return info is None or bool(info.deprecated)

    @cached_property
    def _groups(self) -> list[list[tuple[str, str]]]:
        groups = []
        for group in EQUIVALENTS:
            resolved = []
            for provider, ref in group:
                model_id = self._catalogue.resolve(provider, ref)
                if model_id is not None and (provider, model_id) not in resolved:
                    resolved.append((provider, model_id))
            groups.append(resolved)
        return groups

    def equivalents(self, provider: str, model: str) -> list[tuple[str, str]]:
        """Other (provider, model id) offering the same model."""
        for group in self._groups:
            if (provider, model) in group:
                return [pair for pair in group if pair != (provider, model)]
        return []
