"""E8: the FinOps dashboard in a real browser (Debian's Chromium via Playwright) against
`netra serve`: sign up, upload a usage file with progress, the dashboard's totals equal what the
API returns, the charts are drawn with data points, a finding leads into the chat, and the
budgets and webhooks pages round-trip through the API."""

from __future__ import annotations

import re
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from playwright.sync_api import Browser, Page, expect

from support.faults import demo_usage
from support.servers import ServerProcess, server

PASSWORD = "a-long-dashboard-passphrase-7"


@pytest.fixture(scope="module")
def netra(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ServerProcess]:
    env = {
        "NETRA_DATA_DIR": str(tmp_path_factory.mktemp("netra")),
        "NETRA_WEBHOOK_ALLOW_LOOPBACK": "true",  # the webhooks page adds a loopback receiver
    }
    with server("serve", env) as srv:
        yield srv


@pytest.fixture(scope="module")
def usage_file(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return demo_usage(tmp_path_factory.mktemp("usage") / "usage.csv", 3000, seed=8)


def sign_up(page: Page, base_url: str) -> str:
    email = f"dash-{uuid.uuid4().hex[:8]}@example.com"
    page.goto(base_url + "/")
    page.click("#register-box summary")
    page.fill("#register-form input[name=email]", email)
    page.fill("#register-form input[name=password]", PASSWORD)
    page.click("#register-form button[type=submit]")
    expect(page.locator("#dashboard-view")).to_be_visible(timeout=15_000)
    return email


def token(page: Page) -> dict[str, str]:
    access = page.evaluate("sessionStorage.getItem('netra.access')")
    return {"Authorization": f"Bearer {access}"}


def money(value: float) -> str:
    return f"${value:,.2f}"


def chart_points(page: Page, canvas_id: str) -> list[list[float]]:
    """The data points Chart.js holds for a canvas: one list per dataset."""
    return page.evaluate(
        "(id) => Chart.getChart(document.getElementById(id)).data.datasets.map(d => d.data)",
        canvas_id,
    )


def test_dashboard_upload_totals_charts_and_chat(
    netra: ServerProcess, usage_file: Path, browser: Browser
) -> None:
    page = browser.new_page(viewport={"width": 1400, "height": 1000})
    sign_up(page, netra.url)
    expect(page.locator("#dash-status")).to_contain_text("No usage", timeout=15_000)

    # Upload with progress: the bar shows, reaches 100 %, the recognised source is named.
    page.set_input_files("#upload-file", str(usage_file))
    expect(page.locator("#upload-progress")).to_be_visible()
    expect(page.locator("#upload-result")).to_contain_text("3,000 records stored", timeout=60_000)
    assert page.locator("#upload-progress").evaluate("el => el.value") == 100
    expect(page.locator("#dash-status")).to_contain_text("records analysed", timeout=30_000)

    # The dashboard's totals are the API's.
    report = httpx.post(f"{netra.url}/api/v1/analyses", json={}, headers=token(page)).json()
    assert report["records"] == 3000 and report["total_cost_usd"] > 0
    expect(page.locator("#kpi-spend")).to_have_text(money(report["total_cost_usd"]))
    expect(page.locator("#kpi-savings")).to_have_text(money(report["projected_savings_usd"]))
    expect(page.locator("#kpi-runrate")).to_have_text(
        money(report["forecast"]["monthly_run_rate_usd"])
    )

    # Spend over time: one bar per day of the API's summary, the stacks summing to its totals.
    days = httpx.get(
        f"{netra.url}/api/v1/usage/summary",
        params={"group_by": "day", "split_by": "model"},
        headers=token(page),
    ).json()["groups"]
    series = chart_points(page, "chart-time")
    assert series and all(len(s) == len(days) for s in series)
    for i, day in enumerate(days):
        assert sum(s[i] for s in series) == pytest.approx(day["cost_usd"], abs=0.02)
    # Its table twin lists the same days.
    assert page.locator("#chart-time-table tbody tr").count() == len(days)
    # Top models: the report's by_model, most expensive first.
    by_model = [g for g in report["breakdown"]["by_model"] if g["key"]][:10]
    [model_points] = chart_points(page, "chart-model")
    # An unpriced model (cost_usd null) is drawn as a zero bar and listed as "unpriced".
    assert model_points == pytest.approx([g["cost_usd"] or 0.0 for g in by_model])

    # Stacking by feature redraws the chart from the API's feature split.
    page.select_option("#stack-by", "feature")
    features = {g["key"] for g in report["breakdown"]["by_feature"] if g["key"]}
    expect(page.locator("#chart-time-table thead th").nth(1)).to_have_text(
        re.compile("|".join(map(re.escape, features))), timeout=15_000
    )

    # A finding leads into the chat, whose agents answer live.
    findings = page.locator("#top-findings tbody tr")
    assert findings.count() == min(5, len(report["findings"])) > 0
    findings.first.locator("button").click()
    expect(page.locator("#chat-view")).to_be_visible()
    assert "Tell me more about this finding" in page.input_value("#ask-text")
    expect(page.locator("#conn-state")).to_have_text("live", timeout=15_000)
    page.click("#ask-button")
    expect(page.locator(".msg.assistant").last).to_contain_text("$", timeout=90_000)
    events = page.locator(".events .ev").all_text_contents()
    assert events[0] == "supervisor started" and events[-1] == "supervisor succeeded"
    # The conversation is listed under its first question.
    expect(page.locator("#threads button").first).to_contain_text("Tell me more")
    page.close()


def _rows(page: Page, table: str) -> list[str]:
    return page.locator(f"{table} tbody tr").all_inner_texts()


def test_budgets_and_webhooks_pages_round_trip(netra: ServerProcess, browser: Browser) -> None:
    page = browser.new_page()
    sign_up(page, netra.url)
    page.click("#nav a[data-view=budgets]")
    page.fill("#budget-form input[name=scope]", "feature:search")
    page.select_option("#budget-form select[name=period]", "day")
    page.fill("#budget-form input[name=limit_usd]", "12.5")
    page.click("#budget-form button[type=submit]")
    expect(page.locator("#budgets-table tbody tr")).to_have_count(1, timeout=15_000)
    listed: list[dict[str, Any]] = httpx.get(
        f"{netra.url}/api/v1/budgets", headers=token(page)
    ).json()["budgets"]
    assert [(b["scope"], b["period"], b["limit_usd"]) for b in listed] == [
        ("feature:search", "day", 12.5)
    ]
    assert "feature:search" in _rows(page, "#budgets-table")[0]
    # A bad scope is refused with the field named, and nothing is added.
    page.fill("#budget-form input[name=scope]", "team:x")
    page.fill("#budget-form input[name=limit_usd]", "5")
    page.click("#budget-form button[type=submit]")
    expect(page.locator("#budget-error")).to_contain_text("scope", timeout=15_000)
    assert len(httpx.get(f"{netra.url}/api/v1/budgets", headers=token(page)).json()["budgets"]) == 1

    page.click("#nav a[data-view=webhooks]")
    page.fill("#webhook-form input[name=url]", "http://127.0.0.1:9/netra-hook")
    page.click("#webhook-form button[type=submit]")
    secret = page.locator("#webhook-secret code")
    expect(secret).to_be_visible(timeout=15_000)
    hooks = httpx.get(f"{netra.url}/api/v1/webhooks", headers=token(page)).json()["webhooks"]
    assert [h["url"] for h in hooks] == ["http://127.0.0.1:9/netra-hook"]
    assert sorted(hooks[0]["events"]) == ["analysis.completed", "budget.alert"]
    assert len(secret.inner_text()) >= 16  # shown once, here, and never listed
    assert "secret" not in hooks[0]
    page.locator("#webhooks-table tbody tr").first.get_by_role("button", name="Deliveries").click()
    expect(page.locator("#deliveries-card")).to_be_visible()
    page.locator("#webhooks-table tbody tr").first.get_by_role("button", name="Delete").click()
    expect(page.locator("#webhooks-table")).to_contain_text("No webhooks yet", timeout=15_000)
    assert httpx.get(f"{netra.url}/api/v1/webhooks", headers=token(page)).json()["webhooks"] == []
    page.close()


def test_api_keys_page_shows_a_key_once_and_revokes_it(
    netra: ServerProcess, browser: Browser
) -> None:
    page = browser.new_page()
    sign_up(page, netra.url)
    page.click("#nav a[data-view=keys]")
    page.fill("#key-form input[name=name]", "ci-uploader")
    page.check("#key-form input[value='usage:read']")
    page.click("#key-form button[type=submit]")
    shown = page.locator("#key-created code")
    expect(shown).to_be_visible(timeout=15_000)
    key = shown.inner_text()
    assert key.startswith("nk_")
    listed = httpx.get(f"{netra.url}/api/v1/api-keys", headers=token(page)).json()["api_keys"]
    assert [(k["name"], sorted(k["scopes"])) for k in listed] == [
        ("ci-uploader", ["usage:read", "usage:write"])
    ]
    assert key not in page.locator("#keys-table").inner_text()  # listed by prefix only
    assert listed[0]["prefix"] in page.locator("#keys-table").inner_text()
    with_key = {"Authorization": f"Bearer {key}"}
    assert httpx.get(f"{netra.url}/api/v1/usage/summary", headers=with_key).status_code == 200
    page.locator("#keys-table tbody tr").first.get_by_role("button", name="Revoke").click()
    expect(page.locator("#keys-table")).to_contain_text("revoked", timeout=15_000)
    assert httpx.get(f"{netra.url}/api/v1/usage/summary", headers=with_key).status_code == 401
    page.close()


def test_members_invite_a_viewer_who_cannot_see_the_keys_page(
    netra: ServerProcess, browser: Browser
) -> None:
    owner_page = browser.new_page()
    sign_up(owner_page, netra.url)
    viewer_email = f"viewer-{uuid.uuid4().hex[:8]}@example.com"
    owner_page.click("#nav a[data-view=members]")
    owner_page.fill("#invite-form input[name=email]", viewer_email)
    owner_page.select_option("#invite-form select[name=role]", "viewer")
    owner_page.click("#invite-form button[type=submit]")
    link = owner_page.locator("#invite-created code")
    expect(link).to_be_visible(timeout=15_000)
    expect(owner_page.locator("#invitations-table")).to_contain_text(viewer_email)

    # The invited person opens the link, creates an account and joins as a viewer.
    context = browser.new_context()
    page = context.new_page()
    page.goto(link.inner_text())
    page.click("#register-box summary")
    page.fill("#register-form input[name=email]", viewer_email)
    page.fill("#register-form input[name=password]", PASSWORD)
    page.click("#register-form button[type=submit]")
    expect(page.locator("#who-role")).to_have_text("viewer", timeout=15_000)
    me = httpx.get(f"{netra.url}/auth/me", headers=token(page)).json()
    owner = httpx.get(f"{netra.url}/auth/me", headers=token(owner_page)).json()
    assert me["role"] == "viewer" and me["org_id"] == owner["org_id"]
    # No keys, audit or chat for a viewer: not in the menu, not by address either.
    for hidden in ("keys", "audit", "chat"):
        expect(page.locator(f"#nav a[data-view={hidden}]")).to_be_hidden()
    page.goto(netra.url + "/#/keys")
    expect(page.locator("#dashboard-view")).to_be_visible(timeout=15_000)
    expect(page.locator("#keys-view")).to_be_hidden()
    assert httpx.get(f"{netra.url}/api/v1/api-keys", headers=token(page)).status_code == 403
    # Read-only pages: budgets are listed, the form to add one is not there.
    page.click("#nav a[data-view=budgets]")
    expect(page.locator("#budget-form")).to_be_hidden()
    expect(page.locator("#upload-card")).to_be_hidden()
    context.close()

    # The owner sees the new member, and the audit log has the invitation and the join.
    owner_page.click("#nav a[data-view=dashboard]")
    owner_page.click("#nav a[data-view=members]")
    expect(owner_page.locator("#members-table")).to_contain_text(viewer_email, timeout=15_000)
    owner_page.click("#nav a[data-view=audit]")
    expect(owner_page.locator("#audit-table")).to_contain_text("member.join", timeout=15_000)
    expect(owner_page.locator("#audit-table")).to_contain_text("member.invite")
    owner_page.close()
