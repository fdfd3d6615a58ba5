"""Every source, and how a file is matched to one: cost-only exports are refused first, then the
sources are asked in order (the most specific first, Netra's own format last)."""

from __future__ import annotations

from netra.core.errors import BadInput
from netra.usage.sources.anthropic_usage import ANTHROPIC_COSTS, ANTHROPIC_USAGE
from netra.usage.sources.base import Unit
from netra.usage.sources.helicone import HELICONE
from netra.usage.sources.langfuse import LANGFUSE
from netra.usage.sources.litellm import LITELLM
from netra.usage.sources.netra_source import NETRA
from netra.usage.sources.openai_usage import OPENAI_COSTS, OPENAI_USAGE
from netra.usage.sources.openrouter import OPENROUTER
from netra.usage.sources.source import Refusal, Source, lowered

SOURCES: dict[str, Source] = {
    s.name: s
    for s in (OPENAI_USAGE, ANTHROPIC_USAGE, LITELLM, LANGFUSE, HELICONE, OPENROUTER, NETRA)
}
REFUSALS: tuple[Refusal, ...] = (OPENAI_COSTS, ANTHROPIC_COSTS)
SOURCE_NAMES: tuple[str, ...] = ("auto", *sorted(SOURCES))


def check_source_name(name: str) -> str:
    if name not in SOURCE_NAMES:
        raise BadInput(
            f"unknown source {name!r}: expected one of {', '.join(SOURCE_NAMES)}",
            details={"field": "source", "expected": list(SOURCE_NAMES)},
        )
    return name


def expected() -> dict[str, str]:
    return {s.name: f"{s.title}: {s.expects}" for s in SOURCES.values()}


def choose(keys: list[str], unit: Unit | None, requested: str, where: str) -> Source:
    """The source of a file whose CSV header or first JSON object has ``keys``."""
    found = lowered(keys)
    for refusal in REFUSALS:
        if refusal.matches(found, unit):
            raise BadInput(f"{where}: {refusal.message}", details={"refused": refusal.name})
    shown = ", ".join(keys[:30]) + (" ..." if len(keys) > 30 else "")
    if requested != "auto":
        source = SOURCES[check_source_name(requested)]
        if not source.recognise(found, unit):
            raise BadInput(
                f"{where}: not a {requested} file ({source.title}): expected {source.expects}; "
                f"found {shown or 'nothing'}",
                details={"source": requested, "expected": source.expects, "found": keys[:100]},
            )
        return source
    for source in SOURCES.values():
        if source.recognise(found, unit):
            return source
    lines = "; ".join(f"{name}: {text}" for name, text in expected().items())
    raise BadInput(
        f"{where}: cannot tell which export this is (found {shown or 'nothing'}). "
        f"Expected one of: {lines}",
        details={"found": keys[:100], "expected": expected()},
    )
