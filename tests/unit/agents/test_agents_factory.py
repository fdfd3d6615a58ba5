"""U9: what each tier's runs get (agents, tools, concurrency, limits), read from the settings."""

from __future__ import annotations

import itertools

import pytest

from netra.agents.factory import AGENTS, ALL_TOOLS, all_profiles, profile_for
from netra.core.errors import LimitReached
from netra.core.settings import TIERS
from netra.tiers import Limit, check, limits_for


def test_default_concurrency_per_tier(make_settings) -> None:  # type: ignore[no-untyped-def]
    settings = make_settings()
    got = {t: profile_for(t, settings).max_runs_per_user for t in TIERS}
    assert got == {"free": 1, "early": 2, "mid": 4, "enterprise": 10}


@pytest.mark.parametrize("tier", TIERS)
def test_profile_reads_the_same_settings_as_the_run_limit(make_settings, tier: str) -> None:  # type: ignore[no-untyped-def]
    settings = make_settings(
        runs_free=3,
        runs_early=5,
        runs_mid=7,
        runs_enterprise=11,
        runs_org_mid=33,
        max_records_enterprise=123,
        run_timeout_early_s=42.0,
    )
    p = profile_for(tier, settings)
    assert p.max_runs_per_user == limits_for(settings, tier).runs_per_user
    assert p.max_runs_per_org == limits_for(settings, tier).runs_per_org
    assert p.max_runs_per_org >= p.max_runs_per_user or tier == "free"
    if tier == "mid":
        assert p.max_runs_per_org == 33
    if tier == "enterprise":
        assert p.max_records == 123
    if tier == "early":
        assert p.run_timeout_s == 42.0


def test_limits_grow_with_the_tier(make_settings) -> None:  # type: ignore[no-untyped-def]
    profiles = [profile_for(t, make_settings()) for t in TIERS]
    for lower, higher in itertools.pairwise(profiles):
        assert lower.max_runs_per_user < higher.max_runs_per_user
        assert lower.max_runs_per_org < higher.max_runs_per_org
        assert lower.max_records < higher.max_records
        assert lower.run_timeout_s <= higher.run_timeout_s
        assert lower.max_plan_steps <= higher.max_plan_steps
        assert set(lower.tools) <= set(higher.tools)


def test_every_tier_gets_the_whole_pipeline_but_free_has_no_trend_tool(make_settings) -> None:  # type: ignore[no-untyped-def]
    profiles = all_profiles(make_settings())
    for p in profiles.values():
        assert p.agents == AGENTS
        assert p.allows_agent("reporting")
        assert p.allows_tool("spend_breakdown") and p.allows_tool("detect_retry_waste")
    assert not profiles["free"].allows_tool("usage_trend")
    assert set(profiles["enterprise"].tools) == set(ALL_TOOLS)


def test_global_run_timeout_caps_every_tier(make_settings) -> None:  # type: ignore[no-untyped-def]
    settings = make_settings(run_timeout_s=30.0)
    assert {profile_for(t, settings).run_timeout_s for t in TIERS} == {30.0}


def test_unknown_tier_fails_closed_to_free(make_settings) -> None:  # type: ignore[no-untyped-def]
    settings = make_settings()
    p = profile_for("platinum", settings)
    assert p.tier == "free"
    assert p == profile_for("free", settings)


def test_over_the_limit_is_refused_with_run_limit(make_settings) -> None:  # type: ignore[no-untyped-def]
    p = profile_for("early", make_settings())  # 2 per user, 5 per org
    check(p.limits, Limit.RUNS_PER_USER, 1)
    check(p.limits, Limit.RUNS_PER_ORG, 4)
    with pytest.raises(LimitReached) as user_err:
        check(p.limits, Limit.RUNS_PER_USER, 2)
    assert user_err.value.code == "run_limit"
    assert user_err.value.details == {"scope": "user", "limit": 2}
    with pytest.raises(LimitReached) as org_err:
        check(p.limits, Limit.RUNS_PER_ORG, 5)
    assert org_err.value.details == {"scope": "org", "limit": 5}
