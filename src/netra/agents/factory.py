"""The agent factory: what each tier's runs may use.

One :class:`TierProfile` per tier, built each time (no cache, no singleton) on the tier table
(``tiers.py``), so the realtime layer (run limits at ``user_message`` time) and the
pipeline agree.
"""

from __future__ import annotations

from dataclasses import dataclass

from netra.agents.engine import DETECTOR_TOOLS
from netra.core.settings import TIERS, Settings
from netra.tiers import TierLimits, limits_for

AGENTS: tuple[str, ...] = (
    "supervisor", "triage", "data", "optimizer", "actions", "reporting",
    "assistant",  # only with a language model configured: it chooses the tools
)  # fmt: skip

# A thread's memory and the actions a follow-up can ask for (``agents.conversation``).
CONVERSATION_TOOLS: tuple[str, ...] = (
    "thread_memory", "narrow_scope", "compare", "estimate_savings", "explain_finding",
    "explain_number", "create_budget",
)  # fmt: skip
DATA_TOOLS: tuple[str, ...] = ("spend_breakdown", "top_spenders", "usage_trend")
OPTIMIZER_TOOLS: tuple[str, ...] = (*DETECTOR_TOOLS.values(), "rank_findings")
ALL_TOOLS: tuple[str, ...] = (
    "classify_request",  # triage, only with a language model configured
    "usage_coverage",  # triage
    *DATA_TOOLS,
    *OPTIMIZER_TOOLS,
    "plan_actions",  # actions
    "save_report",  # reporting
    *CONVERSATION_TOOLS,
)

# What differs between tiers besides the numeric limits. The free tier gets the whole pipeline
# (its first answer is the product's first impression) but no trend tool and a shorter plan.
_TOOLS_BY_TIER: dict[str, tuple[str, ...]] = {
    "free": tuple(t for t in ALL_TOOLS if t != "usage_trend"),
    "early": ALL_TOOLS,
    "mid": ALL_TOOLS,
    "enterprise": ALL_TOOLS,
}
_PLAN_STEPS_BY_TIER: dict[str, int] = {"free": 3, "early": 5, "mid": 8, "enterprise": 10}
_TOP_N_BY_TIER: dict[str, int] = {"free": 5, "early": 5, "mid": 10, "enterprise": 10}


@dataclass(frozen=True, slots=True)
class TierProfile:
    """What a tier's runs may use: agents and tools here; every number from the tier table."""

    tier: str
    agents: tuple[str, ...]
    tools: tuple[str, ...]
    limits: TierLimits
    max_plan_steps: int
    top_n: int  # rows in top-spender lists

    @property
    def max_runs_per_user(self) -> int:
        return self.limits.runs_per_user

    @property
    def max_runs_per_org(self) -> int:
        return self.limits.runs_per_org

    @property
    def run_timeout_s(self) -> float:
        return self.limits.run_timeout_s

    @property
    def max_records(self) -> int:
        return self.limits.max_records

    def allows_agent(self, name: str) -> bool:
        return name in self.agents

    def allows_tool(self, name: str) -> bool:
        return name in self.tools


def profile_for(tier: str, settings: Settings) -> TierProfile:
    """The profile of ``tier``; an unknown tier gets the free tier's (fail closed)."""
    limits = limits_for(settings, tier)
    key = limits.tier
    return TierProfile(
        tier=key,
        agents=AGENTS,
        tools=_TOOLS_BY_TIER[key],
        limits=limits,
        max_plan_steps=_PLAN_STEPS_BY_TIER[key],
        top_n=_TOP_N_BY_TIER[key],
    )


def all_profiles(settings: Settings) -> dict[str, TierProfile]:
    return {tier: profile_for(tier, settings) for tier in TIERS}
