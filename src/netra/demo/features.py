"""The demo workload's cast: which features exist, on which models, and which waste each
carries (``demo_data`` turns this into records and labels). Data, not logic."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime

START = datetime(2026, 10, 23, tzinfo=UTC)
DAYS = 28


@dataclass(frozen=True)
class Feature:
    name: str
    provider: str
    model: str
    share: float
    trace: str = "conv"
    users: int = 200
    waste: str | None = None  # the finding kind it must raise, None for a clean feature
    input_add: int = 0  # tokens added to every prompt (a fixed system prompt / document)
    output_scale: float = 1.0
    short_output: bool = False  # classification-like answers (1..8 tokens)
    cached: bool = False  # already uses prompt caching
    failure_rate: float = 0.015
    duplicate_rate: float = 0.02
    billed: float | None = None  # emit cost_usd = catalogue x this factor
    pattern: str = "interactive"  # interactive | nightly | sessions
    popular_prompts: int = 10  # how many distinct prompts the duplicates repeat
    scope: tuple[str, ...] = ("feature", "provider", "model")


FEATURES: tuple[Feature, ...] = (
    # clean traffic, some near a threshold
    Feature("support-chat", "anthropic", "claude-sonnet-4-5", 0.14, users=600, cached=True),
    Feature("code-assist", "openai", "gpt-4.1-nano", 0.14, trace="code", cached=True, billed=1.0),
    Feature("summarize", "google", "gemini-2.5-flash", 0.08, output_scale=1.5),
    Feature("email-draft", "azure", "gpt-4o", 0.06, users=150),  # same price as openai
    Feature("agent-planner", "bedrock", "global.anthropic.claude-sonnet-4-5-20250929-v1:0", 0.05),
    Feature("translate", "mistral", "mistral-small-latest", 0.05, billed=1.0),
    Feature("search-assist", "google", "gemini-2.5-flash-lite", 0.07, users=400),
    Feature("intent-router", "openai", "gpt-4.1-nano", 0.05, short_output=True, billed=1.0),
    Feature("internal-tool", "selfhosted", "acme-llm-v2", 0.01, users=20),
    # injected waste, one kind per feature
    Feature(
        "ticket-triage", "openai", "gpt-4o", 0.04, short_output=True, waste="model_rightsizing"
    ),
    Feature(
        "sentiment-tag",
        "anthropic",
        "claude-sonnet-4-5",
        0.03,
        short_output=True,
        waste="model_rightsizing",
    ),
    Feature(
        "faq-bot",
        "openai",
        "gpt-4o-mini",
        0.05,
        duplicate_rate=0.45,
        popular_prompts=4,
        waste="response_caching",
    ),
    Feature(
        "contract-review",
        "anthropic",
        "claude-sonnet-4-5",
        0.04,
        input_add=6000,
        pattern="sessions",
        users=80,
        waste="prompt_caching",
    ),
    Feature(
        "report-gen", "google", "gemini-2.5-flash", 0.04, failure_rate=0.3, waste="retry_waste"
    ),
    Feature(  # a client timeout shorter than the answer time: it retries calls that succeed
        "slow-summary", "openai", "gpt-4.1-mini", 0.03, users=300, waste="retry_waste"
    ),
    Feature(
        "doc-extract",
        "bedrock",
        "anthropic.claude-sonnet-4-5-20250929-v1:0",
        0.04,
        waste="provider_arbitrage",
        scope=("provider", "model"),
    ),
    Feature(
        "kb-answer",
        "cerebras",
        "llama-3.3-70b",
        0.03,
        waste="provider_arbitrage",
        scope=("provider", "model"),
    ),
    Feature(
        "nightly-enrich", "openai", "gpt-4o-mini", 0.03, pattern="nightly", waste="batch_eligible"
    ),
    Feature(
        "catalog-tagging",
        "anthropic",
        "claude-haiku-4-5",
        0.03,
        pattern="nightly",
        waste="batch_eligible",
    ),
)
ANOMALY_FEATURES = ("search-assist", "summarize")  # each gets one runaway day
ANOMALY_FACTOR = 8.0
MISMATCH = ("azure", "gpt-4o", 1.3)  # billed 30 % above the list price
