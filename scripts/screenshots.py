"""Screenshots of the web UI for the README: `python scripts/screenshots.py [--out DIR]`.

Starts `netra serve --demo` on a free port with a throwaway data directory, signs in as the demo
user in Debian's Chromium (Playwright), and saves the dashboard, a finished chat and the budgets
page as PNG files. Needs the project's virtual environment (`source .venv/bin/activate`).
"""

from __future__ import annotations

import argparse
import os
import re
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from playwright.sync_api import Page, expect, sync_playwright

CHROMIUM_FLAGS = [
    "--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
    "--disable-component-update", "--disable-sync", "--no-first-run",
]  # fmt: skip
SIGN_IN = re.compile(r"Sign in as (\S+) / (\S+)")


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def start_demo(data_dir: str, port: int) -> tuple[subprocess.Popen[str], str, str]:
    proc = subprocess.Popen(
        [sys.executable, "-m", "netra", "serve", "--demo", "--port", str(port)],
        env={
            **{k: v for k, v in os.environ.items() if not k.startswith("NETRA_")},
            "NETRA_DATA_DIR": data_dir,
        },
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    deadline = time.monotonic() + 180
    assert proc.stdout is not None
    for line in proc.stdout:
        found = SIGN_IN.search(line)
        if found:
            return proc, found.group(1), found.group(2)
        if time.monotonic() > deadline:
            break
    proc.kill()
    raise SystemExit("netra serve --demo did not print its sign-in")


def sign_in(page: Page, url: str, email: str, password: str) -> None:
    page.goto(url)
    page.fill("#login-form input[name=email]", email)
    page.fill("#login-form input[name=password]", password)
    page.click("#login-form button[type=submit]")
    expect(page.locator("#dash-status")).to_contain_text("records analysed", timeout=60_000)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=Path("docs/screenshots"))
    args = parser.parse_args()
    args.out.mkdir(parents=True, exist_ok=True)
    port = free_port()
    url = f"http://127.0.0.1:{port}/"
    with tempfile.TemporaryDirectory(prefix="netra-shots-") as data_dir:
        proc, email, password = start_demo(data_dir, port)
        try:
            with sync_playwright() as p:
                browser = p.chromium.launch(
                    executable_path="/usr/bin/chromium", args=CHROMIUM_FLAGS
                )
                page = browser.new_page(viewport={"width": 1400, "height": 900})
                sign_in(page, url, email, password)
                page.screenshot(path=str(args.out / "dashboard.png"), full_page=True)

                page.click("#nav a[data-view=chat]")
                expect(page.locator("#conn-state")).to_have_text("live", timeout=15_000)
                page.fill("#ask-text", "where is my money going and how do I cut it?")
                page.click("#ask-button")
                expect(page.locator("#messages .findings")).to_be_visible(timeout=120_000)
                page.screenshot(path=str(args.out / "chat.png"), full_page=True)

                page.click("#nav a[data-view=budgets]")
                for scope, period, limit in (
                    ("org", "month", "80"),
                    ("feature:contract-review", "day", "1.5"),
                ):
                    page.fill("#budget-form input[name=scope]", scope)
                    page.select_option("#budget-form select[name=period]", period)
                    page.fill("#budget-form input[name=limit_usd]", limit)
                    page.click("#budget-form button[type=submit]")
                    expect(page.locator("#budgets-table")).to_contain_text(scope)
                page.screenshot(path=str(args.out / "budgets.png"), full_page=True)
                browser.close()
        finally:
            proc.terminate()
            proc.wait(30)
    for name in ("dashboard", "chat", "budgets"):
        print(args.out / f"{name}.png")


if __name__ == "__main__":
    main()
