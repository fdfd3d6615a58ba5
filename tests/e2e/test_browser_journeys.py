"""E2 and E4 in a real browser (Debian's Chromium via Playwright) against `netra serve`.

A new user signs up in the web UI, uploads a usage file, asks where the money goes, and sees the
agents work live and a report with findings and dollar savings; two users at once each see only
their own run; signing out ends access.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from playwright.sync_api import Browser, expect

from support.browser import ask, sign_up, upload
from support.faults import demo_usage
from support.servers import ServerProcess, server

QUESTION = "where is my money going and how do I cut it?"
DOLLARS = re.compile(r"\$\d{1,3}(,\d{3})*\.\d{2}")


@pytest.fixture(scope="module")
def netra(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ServerProcess]:
    with server("serve", {"NETRA_DATA_DIR": str(tmp_path_factory.mktemp("netra"))}) as srv:
        yield srv


@pytest.fixture(scope="module")
def usage_file(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return demo_usage(tmp_path_factory.mktemp("usage") / "usage.csv", 4000, seed=31)


def test_first_value_journey_and_sign_out(
    netra: ServerProcess, usage_file: Path, browser: Browser
) -> None:
    page = browser.new_page()
    sign_up(page, netra.url)
    upload(page, usage_file)
    assert "0 rejected" in page.inner_text("#upload-result")
    ask(page, QUESTION)
    answer = page.locator(".msg.assistant").last
    expect(answer).to_contain_text("$", timeout=60_000)
    # The agents worked live, in the documented order, and the report is on screen.
    events = page.locator(".events .ev").all_text_contents()
    assert events[0] == "supervisor started" and events[-1] == "supervisor succeeded"
    for agent in ("triage", "data", "optimizer", "actions", "reporting"):
        assert f"{agent} started" in events and f"{agent} succeeded" in events
    assert any("runs " in e for e in events) and any(" ok in " in e for e in events)
    rows = page.locator("#messages .findings tbody tr")
    expect(rows.first).to_be_visible(timeout=15_000)
    assert rows.count() >= 3
    assert DOLLARS.search(answer.inner_text())
    assert "projected savings" in answer.inner_text()

    # Signing out ends access: the token the page held is refused afterwards.
    token = page.evaluate("sessionStorage.getItem('netra.access')")
    assert (
        httpx.get(f"{netra.url}/auth/me", headers={"Authorization": f"Bearer {token}"}).status_code
        == 200
    )
    page.click("#logout")
    expect(page.locator("#auth-view")).to_be_visible()
    assert (
        httpx.get(f"{netra.url}/auth/me", headers={"Authorization": f"Bearer {token}"}).status_code
        == 401
    )
    page.reload()
    expect(page.locator("#auth-view")).to_be_visible()
    page.close()


def test_two_users_at_once_each_see_only_their_own_run(
    netra: ServerProcess, usage_file: Path, browser: Browser
) -> None:
    contexts = [browser.new_context(), browser.new_context()]
    pages = [c.new_page() for c in contexts]
    for page in pages:
        sign_up(page, netra.url)
    upload(pages[0], usage_file)  # the second user has no data: a different answer
    for page in pages:
        ask(page, QUESTION)
    for page in pages:
        expect(page.locator(".msg.assistant").last).to_be_visible(timeout=60_000)
    for page in pages:
        # One run block per page: a foreign run's event would have opened a second one.
        assert page.locator(".events").count() == 1
        texts = page.locator(".events .ev").all_text_contents()
        assert texts.count("supervisor started") == 1 and texts.count("supervisor succeeded") == 1
    assert DOLLARS.search(pages[0].locator(".msg.assistant").last.inner_text())
    assert "upload" in pages[1].locator(".msg.assistant").last.inner_text().lower()
    for c in contexts:
        c.close()
