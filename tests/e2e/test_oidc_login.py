"""E1: sign-in through a real OpenID Connect provider (panva/oidc-provider on loopback).

The provider is a Node process started here (``tests/e2e/oidc``, installed with ``npm ci`` when
missing); Netra is ``netra serve`` as a real process. An HTTP client follows every redirect the
way a browser does: authorize -> provider login and consent -> callback -> the web UI with a
one-time code in the fragment -> exchange -> signed in.
"""

from __future__ import annotations

import re
import shutil
import subprocess
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import parse_qs, urlencode, urljoin, urlsplit, urlunsplit

import httpx
import pytest

from support.accounts import bearer, signup_sync
from support.servers import ServerProcess, server
from support.services import free_port

OIDC_DIR = Path(__file__).resolve().parent / "oidc"
CLIENT_ID = "netra-e2e"
CLIENT_SECRET = "e2e-client-secret-4f1c9a7d2b"


@dataclass
class Provider:
    url: str
    proc: subprocess.Popen[bytes]


def _install_provider() -> None:
    if (OIDC_DIR / "node_modules" / "oidc-provider").is_dir():
        return
    npm = shutil.which("npm")
    if npm is None:
        pytest.exit("npm is missing for the OpenID Connect e2e test: apt-get install -y npm", 3)
    subprocess.run(
        [npm, "ci", "--no-audit", "--no-fund", "--silent"], cwd=OIDC_DIR, check=True, timeout=300
    )


@pytest.fixture(scope="module")
def stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Provider, ServerProcess]]:
    _install_provider()
    node = shutil.which("node")
    assert node, "node is required for the OpenID Connect provider"
    provider_port, netra_port = free_port(), free_port()
    netra_url = f"http://127.0.0.1:{netra_port}"
    redirect_uri = f"{netra_url}/auth/oauth/google/callback"
    log = tmp_path_factory.mktemp("oidc") / "provider.log"
    with open(log, "wb") as out:
        proc = subprocess.Popen(
            [node, "provider.mjs", str(provider_port), CLIENT_ID, CLIENT_SECRET, redirect_uri],
            cwd=OIDC_DIR,
            stdout=out,
            stderr=subprocess.STDOUT,
        )
    provider = Provider(f"http://127.0.0.1:{provider_port}", proc)
    try:
        deadline = time.monotonic() + 20
        while True:
            try:
                httpx.get(f"{provider.url}/.well-known/openid-configuration", timeout=1)
                break
            except httpx.HTTPError:
                if proc.poll() is not None or time.monotonic() > deadline:
                    raise RuntimeError(f"OIDC provider did not start:\n{log.read_text()}") from None
                time.sleep(0.1)
        env = {
            "NETRA_DATA_DIR": str(tmp_path_factory.mktemp("netra")),
            "NETRA_PUBLIC_URL": netra_url,
            "NETRA_OAUTH_ENABLED": "true",
            "NETRA_OAUTH_PROVIDER": "google",
            "NETRA_OAUTH_ISSUER": provider.url,
            "NETRA_OAUTH_CLIENT_ID": CLIENT_ID,
            "NETRA_OAUTH_CLIENT_SECRET": CLIENT_SECRET,
            "NETRA_OAUTH_ALLOWED_DOMAINS": "example.com",
        }
        with server("serve", env, port=netra_port) as netra:
            yield provider, netra
    finally:
        proc.terminate()
        proc.wait(10)


_FORM_ACTION = re.compile(r'<form[^>]*action="([^"]+)"')


def _follow(client: httpx.Client, response: httpx.Response, stop_prefix: str) -> httpx.Response:
    """Follow redirects like a browser until one points at ``stop_prefix`` (not requested)."""
    for _ in range(20):
        if response.status_code not in (301, 302, 303, 307, 308):
            return response
        location = urljoin(str(response.url), response.headers["location"])
        if location.startswith(stop_prefix):
            return response
        response = client.get(location)
    raise AssertionError("too many redirects")


def provider_sign_in(client: httpx.Client, netra: ServerProcess, login: str) -> str:
    """Start at Netra, sign in and consent at the provider; the callback URL it sends back."""
    start = client.get(f"{netra.url}/auth/oauth/google/authorize")
    assert start.status_code == 302
    query = parse_qs(urlsplit(start.headers["location"]).query)
    assert query["code_challenge_method"] == ["S256"] and query["code_challenge"][0]
    assert query["state"][0] and query["nonce"][0] and query["client_id"] == [CLIENT_ID]
    callback_prefix = f"{netra.url}/auth/oauth/google/callback"
    page = _follow(client, start, callback_prefix)
    for prompt, fields in (("login", {"login": login, "password": "any"}), ("consent", {})):
        if page.status_code in (302, 303) and page.headers["location"].startswith(callback_prefix):
            break
        assert page.status_code == 200, page.text[:500]
        action = urljoin(str(page.url), _FORM_ACTION.search(page.text).group(1))  # type: ignore[union-attr]
        posted = client.post(action, data={"prompt": prompt, **fields})
        page = _follow(client, posted, callback_prefix)
    location = page.headers["location"]
    assert location.startswith(callback_prefix), location
    return location


def land_in_app(client: httpx.Client, netra: ServerProcess, callback_url: str) -> dict[str, str]:
    landed = client.get(callback_url)
    assert landed.status_code == 302, landed.text
    target = landed.headers["location"]
    assert target.startswith(f"{netra.url}/#login_code=")
    assert "access_token" not in target and "eyJ" not in target  # no token in any URL
    assert "httponly" in landed.headers.get("set-cookie", "").lower()
    code = target.split("#login_code=", 1)[1]
    assert client.get(f"{netra.url}/").status_code == 200  # the web UI it lands on
    pair = client.post(f"{netra.url}/auth/oauth/exchange", json={"code": code})
    assert pair.status_code == 200, pair.text
    again = client.post(f"{netra.url}/auth/oauth/exchange", json={"code": code})
    assert again.status_code == 401  # one time only
    tokens: dict[str, str] = pair.json()
    return tokens


def test_full_oidc_sign_in_lands_signed_in_and_logout_ends_access(
    stack: tuple[Provider, ServerProcess],
) -> None:
    _, netra = stack
    with httpx.Client(timeout=30) as client:
        callback_url = provider_sign_in(client, netra, "alice@example.com")
        tokens = land_in_app(client, netra, callback_url)
        me = client.get(f"{netra.url}/auth/me", headers=bearer(tokens["access_token"]))
        assert me.status_code == 200
        assert me.json()["email"] == "alice@example.com"
        assert me.json()["role"] == "owner"
        out = client.post(f"{netra.url}/auth/logout", headers=bearer(tokens["access_token"]))
        assert out.status_code == 204
        after = client.get(f"{netra.url}/auth/me", headers=bearer(tokens["access_token"]))
        assert after.status_code == 401


def test_password_account_is_linked_by_verified_email(
    stack: tuple[Provider, ServerProcess],
) -> None:
    _, netra = stack
    account = signup_sync(netra.url, email="carol@example.com")
    with httpx.Client(timeout=30) as client:
        tokens = land_in_app(client, netra, provider_sign_in(client, netra, "carol@example.com"))
        me = client.get(f"{netra.url}/auth/me", headers=bearer(tokens["access_token"])).json()
    assert me["id"] == account["user"]["id"]
    # The address had not been proven when the password was set: that password is gone.
    old = httpx.post(
        f"{netra.url}/auth/login",
        json={"email": "carol@example.com", "password": account["password"]},
    )
    assert old.status_code == 401


def _with_state(url: str, state: str) -> str:
    parts = urlsplit(url)
    query = {k: v[0] for k, v in parse_qs(parts.query).items()}
    query["state"] = state
    return urlunsplit(parts._replace(query=urlencode(query)))


def test_tampered_and_replayed_state_are_refused(stack: tuple[Provider, ServerProcess]) -> None:
    _, netra = stack
    with httpx.Client(timeout=30) as client:
        callback_url = provider_sign_in(client, netra, "dave@example.com")
        state = parse_qs(urlsplit(callback_url).query)["state"][0]
        tampered = client.get(_with_state(callback_url, state[:-2] + "xy"))
        assert tampered.status_code == 400
        assert "state" in tampered.json()["error"]["message"]
        # From another browser (no state cookie) the genuine callback is refused too.
        stranger = httpx.get(callback_url)
        assert stranger.status_code == 400
        assert "location" not in stranger.headers
        land_in_app(client, netra, callback_url)
        replay = client.get(callback_url)
        assert replay.status_code == 400


def test_email_domain_outside_the_allowed_list_is_refused(
    stack: tuple[Provider, ServerProcess],
) -> None:
    _, netra = stack
    with httpx.Client(timeout=30) as client:
        callback_url = provider_sign_in(client, netra, "mallory@elsewhere.org")
        refused = client.get(callback_url)
    assert refused.status_code == 403
    assert "elsewhere.org" in refused.json()["error"]["message"]


def test_browser_signs_in_through_the_provider_and_lands_in_the_app(
    stack: tuple[Provider, ServerProcess],
) -> None:
    """The same journey in Chromium through the web UI: the single sign-on button, the
    provider's login and consent pages, back in the app signed in; signing out ends access."""
    from playwright.sync_api import sync_playwright

    _, netra = stack
    chromium = shutil.which("chromium") or shutil.which("chromium-browser")
    if chromium is None:
        pytest.exit("Chromium is missing: apt-get update && apt-get install -y chromium", 3)
    with sync_playwright() as p:
        browser = p.chromium.launch(
            executable_path=chromium, args=["--headless", "--no-sandbox", "--disable-gpu"]
        )
        page = browser.new_page()
        page.goto(f"{netra.url}/")
        page.click("#oauth-login")
        page.fill("input[name=login]", "erin@example.com")
        page.fill("input[name=password]", "anything")
        page.click("button[type=submit]")
        page.wait_for_selector("input[name=prompt][value=consent]", state="attached")
        page.click("button[type=submit]")
        page.wait_for_selector("#who-email:has-text('erin@example.com')", timeout=15_000)
        assert page.url.rstrip("/") == netra.url  # the fragment with the code is gone
        access = page.evaluate("sessionStorage.getItem('netra.access')")
        assert (
            httpx.get(f"{netra.url}/auth/me", headers=bearer(access)).json()["email"]
            == "erin@example.com"
        )
        page.click("#logout")
        page.wait_for_selector("#auth-view", state="visible")
        assert httpx.get(f"{netra.url}/auth/me", headers=bearer(access)).status_code == 401
        browser.close()
