"""The one table of tier limits: its defaults, the settings' overrides, the one check and the
one error kind, and how that error becomes 403 or 429 (API.md "Limits", PROTOCOL.md)."""

from __future__ import annotations

import itertools
from dataclasses import fields

import httpx
import pytest
from fastapi import FastAPI

from netra.core.errors import LimitReached
from netra.core.http_errors import install_error_handlers, status_for
from netra.core.settings import Settings
from netra.tiers import DEFAULTS, SETTING_OF, TIER_NAMES, Limit, check, limits_for


def test_request_rates_are_the_contracts_defaults() -> None:
    settings = Settings(env="test")
    rates = {t: limits_for(settings, t).requests_per_min for t in TIER_NAMES}
    assert rates == {"free": 60, "early": 300, "mid": 1_200, "enterprise": 6_000}
    sockets = {t: limits_for(settings, t).ws_connections for t in TIER_NAMES}
    assert sockets == {"free": 5, "early": 10, "mid": 20, "enterprise": 50}


def test_every_limit_grows_with_the_tier() -> None:
    numeric = [f.name for f in fields(DEFAULTS["free"]) if f.name != "tier"]
    for lower, higher in itertools.pairwise(DEFAULTS[t] for t in TIER_NAMES):
        for name in numeric:
            assert getattr(lower, name) <= getattr(higher, name), (lower.tier, name)


def test_a_setting_overrides_only_its_own_tier_and_limit() -> None:
    settings = Settings(env="test", requests_per_min_mid=9)
    assert limits_for(settings, "mid").requests_per_min == 9
    assert limits_for(settings, "early").requests_per_min == DEFAULTS["early"].requests_per_min
    assert limits_for(settings, "mid").max_budgets == DEFAULTS["mid"].max_budgets


def test_every_override_names_a_real_setting() -> None:
    names = set(Settings.model_fields)
    for pattern in SETTING_OF.values():
        for tier in TIER_NAMES:
            assert pattern.format(tier=tier) in names


def test_an_unset_override_leaves_the_default_and_a_bad_one_is_refused() -> None:
    assert limits_for(Settings(env="test"), "free") == DEFAULTS["free"]
    with pytest.raises(ValueError, match="runs_free"):
        Settings(env="test", runs_free=0)


def test_the_global_run_timeout_caps_the_table() -> None:
    limits = limits_for(Settings(env="test", run_timeout_s=5.0), "enterprise")
    assert limits.run_timeout_s == 5.0


@pytest.mark.parametrize(
    ("limit", "code", "status"),
    [
        (Limit.MAX_BUDGETS, "forbidden", 403),  # a count: waiting does not lift it
        (Limit.MAX_WEBHOOKS, "forbidden", 403),
        (Limit.MAX_RECORDS, "forbidden", 403),
        (Limit.RUNS_PER_USER, "run_limit", 429),  # PROTOCOL.md's code for runs
        (Limit.RUNS_PER_ORG, "run_limit", 429),
        (Limit.UPLOADS_PER_USER, "rate_limited", 429),
        (Limit.UPLOADS_PER_ORG, "rate_limited", 429),
        (Limit.WS_CONNECTIONS, "rate_limited", 429),
        (Limit.REQUESTS_PER_MIN, "rate_limited", 429),
        (Limit.ANALYSES_PER_MIN, "rate_limited", 429),
    ],
)
def test_one_check_one_error_kind_and_its_status(limit: Limit, code: str, status: int) -> None:
    limits = DEFAULTS["free"]
    allowed = int(getattr(limits, limit.value))
    check(limits, limit, allowed - 1)  # the last one allowed passes
    with pytest.raises(LimitReached) as refused:
        check(limits, limit, allowed)
    err = refused.value
    assert (err.code, err.limit, status_for(err)) == (code, limit.value, status)
    assert err.details is not None and err.details["limit"] == allowed
    assert "free tier" in err.message


def test_a_rate_refusal_carries_when_to_retry() -> None:
    with pytest.raises(LimitReached) as refused:
        check(DEFAULTS["free"], Limit.REQUESTS_PER_MIN, 60, retry_after_s=17)
    assert refused.value.retry_after_s == 17
    with pytest.raises(LimitReached) as counted:
        check(DEFAULTS["free"], Limit.MAX_BUDGETS, 3, retry_after_s=17)
    assert counted.value.retry_after_s is None  # a count is not lifted by waiting


async def test_over_http_a_count_is_403_and_a_concurrency_429_with_retry_after() -> None:
    app = FastAPI()
    install_error_handlers(app)

    @app.get("/{limit}")
    async def refuse(limit: str) -> None:
        check(DEFAULTS["free"], Limit(limit), 10**9)

    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://t") as client:
        counted = await client.get("/max_budgets")
        busy = await client.get("/uploads_per_user")
    assert counted.status_code == 403 and "Retry-After" not in counted.headers
    assert counted.json()["error"]["details"] == {"resource": "budgets", "limit": 3, "tier": "free"}
    assert busy.status_code == 429 and busy.headers["Retry-After"] == "1"
    assert busy.json()["error"]["code"] == "rate_limited"
