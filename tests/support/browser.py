"""A real browser for e2e tests: Debian's Chromium driven by Playwright (no downloads)."""

from __future__ import annotations

import shutil
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest
from playwright.sync_api import Browser, Page, expect, sync_playwright

PASSWORD = "a-long-browser-passphrase-42"

CHROMIUM_FLAGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]


def chromium_path() -> str:
    path = shutil.which("chromium") or shutil.which("chromium-browser")
    if path is None:
        pytest.exit(
            "Chromium is missing for the browser tests. Install it with:\n"
            "  apt-get update && apt-get install -y chromium",
            returncode=3,
        )
    return path


@contextmanager
def chromium() -> Iterator[Browser]:
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=chromium_path(), args=CHROMIUM_FLAGS)
        try:
            yield browser
        finally:
            browser.close()


# ---- the web UI's journeys, as a user does them --------------------------------------


def sign_up(page: Page, base_url: str) -> str:
    email = f"user-{uuid.uuid4().hex[:8]}@example.com"
    page.goto(base_url + "/")
    expect(page.locator("#auth-view")).to_be_visible()
    expect(page.locator("#oauth-box")).to_be_hidden()  # single sign-on is not configured here
    page.click("#register-box summary")
    page.fill("#register-form input[name=name]", "Browser User")
    page.fill("#register-form input[name=email]", email)
    page.fill("#register-form input[name=password]", PASSWORD)
    page.click("#register-form button[type=submit]")
    expect(page.locator("#dashboard-view")).to_be_visible(timeout=15_000)
    expect(page.locator("#who-email")).to_have_text(email)
    expect(page.locator("#conn-state")).to_have_text("live", timeout=10_000)
    return email


def upload(page: Page, path: Path) -> None:
    page.click("#nav a[data-view=dashboard]")
    page.set_input_files("#upload-file", str(path))  # uploads as soon as it is chosen
    expect(page.locator("#upload-result")).to_contain_text("records stored", timeout=30_000)


def ask(page: Page, text: str) -> None:
    page.click("#nav a[data-view=chat]")
    page.fill("#ask-text", text)
    page.click("#ask-button")
