"""Billing: request validation, budget windows and thresholds, tier limits as settings."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
from pydantic import ValidationError

from netra.billing.budgets import crossed, window
from netra.billing.schemas import EVENT_TYPES, BudgetIn, WebhookIn, parse_scope
from netra.core.errors import LimitReached
from netra.tiers import DEFAULTS, TIER_NAMES, Limit, check, limits_for


def test_scopes() -> None:
    assert parse_scope("org") == ("org", None)
    assert parse_scope("feature:search") == ("feature", "search")
    assert parse_scope("model:gpt-4o:latest") == ("model", "gpt-4o:latest")
    for bad in ("", "orgs", "feature:", "feature:  ", "user:bob", "model", ":x"):
        with pytest.raises(ValueError):
            parse_scope(bad)


def _fields(exc: ValidationError) -> set[str]:
    return {".".join(str(p) for p in e["loc"]) for e in exc.errors()}


def test_budget_body_validation_names_the_field() -> None:
    ok = BudgetIn.model_validate({"scope": "feature:chat", "period": "month", "limit_usd": 50})
    assert ok.limit_usd == 50.0
    cases = [
        ({"scope": "team:x", "period": "day", "limit_usd": 1}, "scope"),
        ({"scope": "org", "period": "week", "limit_usd": 1}, "period"),
        ({"scope": "org", "period": "day", "limit_usd": 0}, "limit_usd"),
        ({"scope": "org", "period": "day", "limit_usd": -5}, "limit_usd"),
        ({"scope": "org", "period": "day", "limit_usd": "lots"}, "limit_usd"),
        ({"scope": "org", "period": "day", "limit_usd": float("inf")}, "limit_usd"),
        ({"scope": "org", "period": "day"}, "limit_usd"),
        ({"scope": "org", "period": "day", "limit_usd": 1, "extra": 1}, "extra"),
    ]
    for body, field in cases:
        with pytest.raises(ValidationError) as info:
            BudgetIn.model_validate(body)
        assert _fields(info.value) == {field}, body


def test_webhook_events_unknown_names_are_named() -> None:
    hook = WebhookIn.model_validate(
        {"url": "https://x.example/h", "events": ["budget.alert", "run.completed", "budget.alert"]}
    )
    assert hook.events == ["run.completed", "budget.alert"]  # de-duplicated, in a fixed order
    with pytest.raises(ValidationError) as info:
        WebhookIn.model_validate(
            {"url": "https://x.example/h", "events": ["run.completed", "run.exploded", "foo"]}
        )
    [error] = info.value.errors()
    assert error["loc"] == ("events",)
    assert "run.exploded" in error["msg"] and "foo" in error["msg"]
    assert "run.completed" not in error["msg"].split(";")[0]
    with pytest.raises(ValidationError):
        WebhookIn.model_validate({"url": "https://x.example/h", "events": []})
    assert set(EVENT_TYPES) == {"analysis.completed", "run.completed", "budget.alert"}


def test_windows_are_utc_days_and_calendar_months() -> None:
    at = datetime(2026, 11, 25, 13, 45, 12, 5, tzinfo=UTC)
    assert window("day", at) == (
        datetime(2026, 11, 25, tzinfo=UTC),
        datetime(2026, 11, 26, tzinfo=UTC),
    )
    assert window("month", at) == (
        datetime(2026, 11, 1, tzinfo=UTC),
        datetime(2026, 12, 1, tzinfo=UTC),
    )
    dec = datetime(2026, 12, 31, 23, 59, 59, tzinfo=UTC)
    assert window("month", dec) == (
        datetime(2026, 12, 1, tzinfo=UTC),
        datetime(2027, 1, 1, tzinfo=UTC),
    )
    assert window("day", dec)[1] == datetime(2027, 1, 1, tzinfo=UTC)
    feb = datetime(2028, 2, 29, 1, tzinfo=UTC)
    assert window("month", feb) == (
        datetime(2028, 2, 1, tzinfo=UTC),
        datetime(2028, 3, 1, tzinfo=UTC),
    )


def test_thresholds() -> None:
    assert crossed(79.99, 100) == []
    assert crossed(80.0, 100) == [80]
    assert crossed(0.1 + 0.7, 1.0) == [80]  # 0.7999999999999999: binary noise is not a miss
    assert crossed(99.999, 100) == [80]
    assert crossed(100.0, 100) == [80, 100]
    assert crossed(350.0, 100) == [80, 100]


def test_tier_limits_come_from_settings(make_settings) -> None:  # type: ignore[no-untyped-def]
    settings = make_settings(budgets_max_mid=7, webhooks_max_free=1, ws_connections_early=3)
    assert TIER_NAMES == ("free", "early", "mid", "enterprise")
    assert limits_for(settings, "mid").max_budgets == 7
    assert limits_for(settings, "free").max_webhooks == 1
    assert limits_for(settings, "early").ws_connections == 3
    assert limits_for(settings, "enterprise").runs_per_user == DEFAULTS["enterprise"].runs_per_user
    unknown = limits_for(settings, "platinum")  # unknown tiers get the smallest limits
    assert unknown.tier == "free" and unknown.max_webhooks == 1
    for name in TIER_NAMES:
        limits = limits_for(settings, name)
        assert limits.max_budgets >= 1 and limits.max_webhooks >= 1
    check(limits_for(settings, "mid"), Limit.MAX_BUDGETS, 6)
    with pytest.raises(LimitReached) as info:
        check(limits_for(settings, "mid"), Limit.MAX_BUDGETS, 7)
    assert "at most 7 budgets" in info.value.message
    assert info.value.details == {"resource": "budgets", "limit": 7, "tier": "mid"}
