"""Tiers and what each may use, as data read from the settings (no limit is hard-coded here)."""

from __future__ import annotations

from dataclasses import dataclass

from netra.core.errors import Forbidden
from netra.core.settings import TIERS, Settings, Tier

TIER_NAMES: tuple[Tier, ...] = TIERS


@dataclass(frozen=True, slots=True)
class TierLimits:
    tier: Tier
    ws_connections: int  # open WebSocket connections per user
    runs_per_user: int  # concurrent agent runs per user
    runs_per_org: int  # concurrent agent runs per organisation
    max_records: int  # usage records one run analyses
    max_budgets: int  # budgets an organisation keeps
    max_webhooks: int  # webhooks an organisation keeps
    uploads_per_user: int  # concurrent uploads per user
    uploads_per_org: int  # concurrent uploads per organisation
    analyses_per_minute: int  # POST /api/v1/analyses per organisation


def normalise_tier(tier: str) -> Tier:
    """An unknown tier name gets the smallest limits (fail closed)."""
    for name in TIER_NAMES:
        if name == tier:
            return name
    return "free"


def limits_for(settings: Settings, tier: str) -> TierLimits:
    name = normalise_tier(tier)
    return TierLimits(
        tier=name,
        ws_connections=int(getattr(settings, f"ws_connections_{name}")),
        runs_per_user=int(getattr(settings, f"runs_{name}")),
        runs_per_org=int(getattr(settings, f"runs_org_{name}")),
        max_records=int(getattr(settings, f"max_records_{name}")),
        max_budgets=int(getattr(settings, f"budgets_max_{name}")),
        max_webhooks=int(getattr(settings, f"webhooks_max_{name}")),
        uploads_per_user=int(getattr(settings, f"uploads_user_{name}")),
        uploads_per_org=int(getattr(settings, f"uploads_org_{name}")),
        analyses_per_minute=int(getattr(settings, f"analyses_per_min_{name}")),
    )


def all_limits(settings: Settings) -> dict[str, TierLimits]:
    return {name: limits_for(settings, name) for name in TIER_NAMES}


def ensure_below(resource: str, count: int, limit: int, tier: str) -> None:
    """Refuse one more ``resource`` when the organisation already holds ``limit`` of them.

    A count limit is not a rate (waiting does not lift it), so this is 403, not 429.
    """
    if count >= limit:
        raise Forbidden(
            f"the {tier} tier allows at most {limit} {resource}; delete one or upgrade",
            details={"resource": resource, "limit": limit, "tier": tier},
        )
