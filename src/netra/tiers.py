"""The one table of what each tier may use, and the one check that refuses past it.

Every question "may this tier do that?" reads :func:`limits_for` and asks :func:`check`. The
numbers are :data:`DEFAULTS` below; a setting overrides a default where one exists
(``NETRA_RUNS_FREE``, ``NETRA_REQUESTS_PER_MIN_MID``, ... see :data:`SETTING_OF`), so the
table stays the single answer to "where are tier limits decided?".

Every refusal is one error kind, :class:`LimitReached`, whose :class:`Kind` says why waiting
does or does not help: a ``count`` (budgets, webhooks held) is lifted only by deleting one or
upgrading (HTTP 403); ``concurrency`` (runs, uploads, sockets) and ``rate`` (requests, analyses
per minute) lift by themselves (HTTP 429 with ``Retry-After``). ``core/http_errors.py`` maps it.
"""

from __future__ import annotations

from dataclasses import dataclass, fields, replace
from enum import StrEnum

from netra.core.errors import LimitKind, LimitReached
from netra.core.settings import TIERS, Settings, Tier

TIER_NAMES: tuple[Tier, ...] = TIERS

Kind = LimitKind


@dataclass(frozen=True, slots=True)
class TierLimits:
    tier: Tier
    ws_connections: int  # open WebSocket connections per user (4429 past it)
    runs_per_user: int  # concurrent agent runs per user (run_limit past it)
    runs_per_org: int  # concurrent agent runs per organisation
    run_timeout_s: float  # one run's wall-clock budget (the global run_timeout_s caps it)
    max_records: int  # usage records one run or analysis reads
    max_budgets: int  # budgets an organisation keeps
    max_webhooks: int  # webhooks an organisation keeps
    max_api_keys: int  # API keys an organisation holds (revoked ones do not count)
    requests_per_min: int  # authenticated HTTP requests per organisation (API.md "Limits")
    uploads_per_user: int  # usage uploads in flight per user
    uploads_per_org: int  # usage uploads in flight per organisation
    analyses_per_min: int  # analyses an organisation starts per minute
    llm_steps_per_run: int  # function-calling turns of the configured LLM in one run
    llm_tokens_per_run: int  # prompt + completion tokens the LLM may use in one run


# A run holds its records in memory (about 0.5 KB each): keep max_records within a worker's RAM.
DEFAULTS: dict[Tier, TierLimits] = {
    "free": TierLimits(
        tier="free", ws_connections=5, runs_per_user=1, runs_per_org=2, run_timeout_s=60.0,
        max_records=50_000, max_budgets=3, max_webhooks=2, requests_per_min=60,
        uploads_per_user=1, uploads_per_org=2, analyses_per_min=10, llm_steps_per_run=4,
        llm_tokens_per_run=30_000, max_api_keys=5,
    ),
    "early": TierLimits(
        tier="early", ws_connections=10, runs_per_user=2, runs_per_org=5, run_timeout_s=120.0,
        max_records=200_000, max_budgets=10, max_webhooks=5, requests_per_min=300,
        uploads_per_user=2, uploads_per_org=5, analyses_per_min=30, llm_steps_per_run=6,
        llm_tokens_per_run=60_000, max_api_keys=20,
    ),
    "mid": TierLimits(
        tier="mid", ws_connections=20, runs_per_user=4, runs_per_org=20, run_timeout_s=300.0,
        max_records=500_000, max_budgets=50, max_webhooks=20, requests_per_min=1_200,
        uploads_per_user=4, uploads_per_org=20, analyses_per_min=120, llm_steps_per_run=8,
        llm_tokens_per_run=120_000, max_api_keys=50,
    ),
    "enterprise": TierLimits(
        tier="enterprise", ws_connections=50, runs_per_user=10, runs_per_org=100,
        run_timeout_s=600.0, max_records=1_000_000, max_budgets=500, max_webhooks=100,
        requests_per_min=6_000, uploads_per_user=8, uploads_per_org=100, analyses_per_min=600,
        llm_steps_per_run=10, llm_tokens_per_run=250_000, max_api_keys=200,
    ),
}  # fmt: skip

# The setting that overrides a limit, as a pattern on the tier's name (None: no override).
SETTING_OF: dict[str, str] = {
    "ws_connections": "ws_connections_{tier}",
    "runs_per_user": "runs_{tier}",
    "runs_per_org": "runs_org_{tier}",
    "run_timeout_s": "run_timeout_{tier}_s",
    "max_records": "max_records_{tier}",
    "max_budgets": "budgets_max_{tier}",
    "max_webhooks": "webhooks_max_{tier}",
    "requests_per_min": "requests_per_min_{tier}",
    "uploads_per_user": "uploads_user_{tier}",
    "uploads_per_org": "uploads_org_{tier}",
    "analyses_per_min": "analyses_per_min_{tier}",
}


class Limit(StrEnum):
    """What :func:`check` may be asked about: a field of :class:`TierLimits`."""

    WS_CONNECTIONS = "ws_connections"
    RUNS_PER_USER = "runs_per_user"
    RUNS_PER_ORG = "runs_per_org"
    MAX_RECORDS = "max_records"
    MAX_BUDGETS = "max_budgets"
    MAX_WEBHOOKS = "max_webhooks"
    MAX_API_KEYS = "max_api_keys"
    REQUESTS_PER_MIN = "requests_per_min"
    UPLOADS_PER_USER = "uploads_per_user"
    UPLOADS_PER_ORG = "uploads_per_org"
    ANALYSES_PER_MIN = "analyses_per_min"


@dataclass(frozen=True, slots=True)
class _Rule:
    kind: Kind
    noun: str  # what is counted, in the message and details
    scope: str | None = None  # whose: "user", "org" (None: the organisation's, unsaid)
    code: str | None = None  # the error code a contract fixes (None: by kind)


_RULES: dict[Limit, _Rule] = {
    Limit.WS_CONNECTIONS: _Rule("concurrency", "connections", "user"),
    # PROTOCOL.md: a run past the tier's concurrency is the error frame code run_limit.
    Limit.RUNS_PER_USER: _Rule("concurrency", "concurrent run(s) per user", "user", "run_limit"),
    Limit.RUNS_PER_ORG: _Rule(
        "concurrency", "concurrent runs per organisation", "org", "run_limit"
    ),
    Limit.MAX_RECORDS: _Rule("count", "records"),
    Limit.MAX_BUDGETS: _Rule("count", "budgets"),
    Limit.MAX_WEBHOOKS: _Rule("count", "webhooks"),
    Limit.MAX_API_KEYS: _Rule("count", "active API keys"),
    Limit.REQUESTS_PER_MIN: _Rule("rate", "requests per minute"),
    Limit.UPLOADS_PER_USER: _Rule("concurrency", "uploads at once per user", "user"),
    Limit.UPLOADS_PER_ORG: _Rule("concurrency", "uploads at once per organisation", "org"),
    Limit.ANALYSES_PER_MIN: _Rule("rate", "analyses per minute"),
}


def normalise_tier(tier: str) -> Tier:
    """An unknown tier name gets the smallest limits (fail closed)."""
    for name in TIER_NAMES:
        if name == tier:
            return name
    return "free"


def limits_for(settings: Settings, tier: str) -> TierLimits:
    """The tier's limits: the table's defaults with the settings' overrides applied."""
    name = normalise_tier(tier)
    overrides: dict[str, float] = {}
    for field in fields(TierLimits):
        pattern = SETTING_OF.get(field.name)
        value = getattr(settings, pattern.format(tier=name)) if pattern else None
        if value is not None:
            overrides[field.name] = value
    limits = replace(DEFAULTS[name], **overrides)  # type: ignore[arg-type]
    # The global run timeout caps every tier (the worker enforces it too).
    return replace(limits, run_timeout_s=min(limits.run_timeout_s, settings.run_timeout_s))


def all_limits(settings: Settings) -> dict[str, TierLimits]:
    return {name: limits_for(settings, name) for name in TIER_NAMES}


def check(limits: TierLimits, limit: Limit, used: int, *, retry_after_s: int | None = None) -> None:
    """Refuse one more use when ``used`` already reaches the tier's ``limit``.

    ``retry_after_s``: for a rate, when the window frees a place (a concurrency frees one when
    something in flight ends, which nobody can say; HTTP then answers ``Retry-After: 1``).
    """
    allowed = int(getattr(limits, limit.value))
    if used < allowed:
        return
    raise refusal(limits, limit, retry_after_s=retry_after_s)


def refusal(limits: TierLimits, limit: Limit, *, retry_after_s: int | None = None) -> LimitReached:
    """The error of a refused ``limit`` (also for checks done elsewhere, e.g. atomically)."""
    rule = _RULES[limit]
    allowed = int(getattr(limits, limit.value))
    tier = limits.tier
    details: dict[str, object]
    if rule.kind == "count":
        message = f"the {tier} tier allows at most {allowed} {rule.noun}; delete one or upgrade"
        details = {"resource": rule.noun, "limit": allowed, "tier": tier}
    elif rule.kind == "concurrency":
        message = f"the {tier} tier allows {allowed} {rule.noun}; wait for one to finish"
        details = {"scope": rule.scope, "limit": allowed}
    else:
        message = f"the {tier} tier allows {allowed} {rule.noun}; slow down"
        details = {"limit": allowed, "tier": tier}
    return LimitReached(
        message,
        kind=rule.kind,
        limit=limit.value,
        code=rule.code,
        retry_after_s=None if rule.kind == "count" else retry_after_s,
        details=details,
    )
