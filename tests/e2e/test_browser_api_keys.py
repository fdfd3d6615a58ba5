"""I12 in a real browser: an owner creates an API key in the web UI, sees it once, a program
uses it, and revoking it in the UI ends its access at once."""

from __future__ import annotations

import time
import uuid
from collections.abc import Iterator

import httpx
import pytest
from playwright.sync_api import Browser, expect

from support.browser import chromium
from support.servers import ServerProcess, server

PASSWORD = "a-long-browser-passphrase-42"


@pytest.fixture(scope="module")
def netra(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ServerProcess]:
    with server("serve", {"NETRA_DATA_DIR": str(tmp_path_factory.mktemp("netra"))}) as srv:
        yield srv


@pytest.fixture(scope="module")
def browser() -> Iterator[Browser]:
    with chromium() as b:
        yield b


def test_a_key_made_in_the_web_ui_works_once_shown_and_dies_when_revoked(
    netra: ServerProcess, browser: Browser
) -> None:
    page = browser.new_page()
    page.goto(netra.url + "/")
    page.click("#register-box summary")
    page.fill("#register-form input[name=name]", "Key Owner")
    page.fill("#register-form input[name=email]", f"keys-{uuid.uuid4().hex[:8]}@example.com")
    page.fill("#register-form input[name=password]", PASSWORD)
    page.click("#register-form button[type=submit]")
    expect(page.locator("#dashboard-view")).to_be_visible(timeout=15_000)

    page.click("#nav a[data-view=keys]")
    expect(page.locator("#keys-view")).to_be_visible()
    page.fill("#key-form input[name=name]", "nightly export")
    page.check("#key-form input[value='usage:read']")
    page.click("#key-form button[type=submit]")
    shown = page.locator("#key-created code.once")
    expect(shown).to_be_visible(timeout=10_000)
    key = shown.inner_text().strip()
    assert key.startswith("nk_")
    expect(page.locator("#keys-table")).to_contain_text("nightly export")
    expect(page.locator("#keys-table")).to_contain_text(key[:11])  # its prefix, listed
    assert key not in page.locator("#keys-table").inner_text()

    summary = f"{netra.url}/api/v1/usage/summary"
    headers = {"Authorization": f"Bearer {key}"}
    assert httpx.get(summary, headers=headers, timeout=30).status_code == 200

    page.reload()  # shown once: gone after a reload, never listed
    page.click("#nav a[data-view=keys]")
    expect(page.locator("#keys-table")).to_contain_text("nightly export")
    expect(page.locator("#key-created")).to_be_hidden()
    assert key not in page.content()

    page.locator("#keys-table button", has_text="Revoke").click()
    expect(page.locator("#keys-table")).to_contain_text("revoked", timeout=10_000)
    deadline = time.monotonic() + 2
    status = 200
    while status != 401 and time.monotonic() < deadline:
        status = httpx.get(summary, headers=headers, timeout=30).status_code
        if status != 401:
            time.sleep(0.05)
    assert status == 401
    page.close()
