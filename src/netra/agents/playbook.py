"""How to act on each finding kind: the change, its risk, and how to verify it worked.

Words only: every figure in a plan step (savings, costs) is copied from the engine's finding.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Any

from netra.agents.money import usd

RISK_ORDER = {"low": 0, "medium": 1, "high": 2}

_TARGET_MODEL_KEYS = (
    "proposed_model",
    "suggested_model",
    "target_model",
    "to_model",
    "cheaper_model",
    "alternative_model",
    "recommended_model",
)
_TARGET_PROVIDER_KEYS = (
    "proposed_provider",
    "suggested_provider",
    "target_provider",
    "to_provider",
    "cheaper_provider",
    "alternative_provider",
    "recommended_provider",
)


def scope_value(finding: dict[str, Any], key: str) -> str | None:
    scope = finding.get("scope") or {}
    value = scope.get(key)
    return str(value) if value not in (None, "") else None


def evidence_value(finding: dict[str, Any], keys: tuple[str, ...]) -> str | None:
    for source in (finding.get("evidence") or {}, finding.get("scope") or {}):
        for key in keys:
            if source.get(key):
                return str(source[key])
    return None


def where(finding: dict[str, Any]) -> str:
    """``feature "search" on gpt-4o`` style scope words; names the feature and the model."""
    feature = scope_value(finding, "feature")
    model = scope_value(finding, "model")
    provider = scope_value(finding, "provider")
    day = scope_value(finding, "day") or scope_value(finding, "date")
    features = (finding.get("evidence") or {}).get("features")
    if feature:
        parts = [f'feature "{feature}"']
    elif isinstance(features, list) and features:
        parts = ["features " + ", ".join(f'"{f}"' for f in features[:4])]
    else:
        parts = ["all features"]
    parts.append(f"on {model}" if model else "across models")
    if provider and not model:
        parts.append(f"({provider})")
    if day:
        parts.append(f"on {day[:10]}")
    return " ".join(parts)


@dataclass(frozen=True, slots=True)
class ActionStep:
    order: int
    kind: str
    change: str
    feature: str | None
    model: str | None
    expected_savings_usd: float
    risk: str  # low | medium | high
    risk_note: str
    verify: str
    confidence: str

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


def _step_words(f: dict[str, Any]) -> tuple[str, str, str, str]:
    """(change, risk, risk note, how to verify) for one finding."""
    kind = str(f.get("kind", ""))
    feature = scope_value(f, "feature")
    model = scope_value(f, "model") or "the current model"
    provider = scope_value(f, "provider") or "the provider"
    subject = f'"{feature}"' if feature else "the affected traffic"
    if kind == "model_rightsizing":
        target = evidence_value(f, _TARGET_MODEL_KEYS) or "a smaller model of the same family"
        return (
            f"Route {subject} from {model} to {target}",
            "medium",
            "answers to the hardest requests may get worse",
            f"send a small share of {subject} to {target} first, compare quality (user ratings "
            "or an evaluation set) and the feature's cost per call in Netra before moving all "
            "of it",
        )
    if kind == "response_caching":
        return (
            f"Cache the responses of {subject} keyed by prompt hash, with an expiry",
            "low",
            "a cached answer can go stale when the underlying data changes; the expiry bounds it",
            "upload next week's usage: calls with a repeated prompt_hash should drop and the "
            "cache hit rate should match the finding's affected calls",
        )
    if kind == "prompt_caching":
        return (
            f"Put the stable prefix of {subject} (system prompt, tools, documents) first and "
            f"turn on prompt caching for {model}",
            "low",
            "the first call of each prefix pays a cache write",
            "cached_input_tokens should rise in the uploaded usage while the feature's cost per "
            "call falls",
        )
    if kind == "retry_waste":
        return (
            f"Stop retry storms in {subject}: cap retries, back off with jitter, never retry "
            "4xx errors, and fix the timeouts that trigger them",
            "low",
            "fewer retries can surface errors to users that retries used to hide",
            "the share of calls with status error/timeout and of calls with retry_of set "
            "should fall in the next upload",
        )
    if kind == "provider_arbitrage":
        target = evidence_value(f, _TARGET_PROVIDER_KEYS) or "the cheaper provider"
        target_model = evidence_value(f, _TARGET_MODEL_KEYS)
        if target_model and target_model != model:
            target = f"{target} (as {target_model})"
        return (
            f"Buy {model} for {subject} through {target} instead of {provider}",
            "medium",
            "a new provider means new rate limits, contract and data-residency terms",
            f"run a slice of {subject} through {target}, compare latency and error rates, then "
            "move the rest",
        )
    if kind == "batch_eligible":
        return (
            f"Send the latency-tolerant calls of {subject} through {provider}'s batch API",
            "low",
            "results arrive later (hours, not seconds), so only for work nobody waits on",
            "those calls should appear with batch=true and a lower cost per call",
        )
    if kind == "spend_anomaly":
        return (
            f"Find what drove the spike in {subject} (a deploy, a loop, abuse) and set a "
            "budget alert on it (POST /api/v1/budgets)",
            "low",
            "none for the investigation itself",
            "the daily spend of that scope should return to its baseline in the next upload",
        )
    return (
        f"Act on: {f.get('title') or kind}",
        "medium",
        "review the finding's detail before changing production traffic",
        "compare the scope's cost in the next upload",
    )


def plan_actions(findings: list[dict[str, Any]], max_steps: int) -> list[ActionStep]:
    """An ordered plan: biggest net savings first; among near-equal savings, lower risk first."""
    steps = []
    for f in findings:
        if float(f.get("savings_usd") or 0) <= 0 and f.get("kind") != "spend_anomaly":
            continue
        change, risk, note, verify = _step_words(f)
        steps.append((f, change, risk, note, verify))
    steps.sort(key=lambda s: (-round(float(s[0].get("savings_usd") or 0), 2), RISK_ORDER[s[2]]))
    return [
        ActionStep(
            order=i,
            kind=str(f.get("kind")),
            change=change,
            feature=scope_value(f, "feature"),
            model=scope_value(f, "model"),
            expected_savings_usd=float(f.get("savings_usd") or 0),
            risk=risk,
            risk_note=note,
            verify=verify,
            confidence=str(f.get("confidence") or "medium"),
        )
        for i, (f, change, risk, note, verify) in enumerate(steps[:max_steps], start=1)
    ]


def describe_step(step: ActionStep) -> str:
    return (
        f"{step.order}. {step.change}. Expected savings {usd(step.expected_savings_usd)} "
        f"({step.confidence} confidence). Risk: {step.risk} ({step.risk_note}). "
        f"Verify: {step.verify}."
    )
