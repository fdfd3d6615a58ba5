"""Finding 4 (and the sign-up part of 10) on PostgreSQL and Redis through the real app.

Attempts reserve their place before the password is checked; addresses come from the peer,
or from X-Forwarded-For only when the peer is a trusted proxy; an account under attack is
slowed with growing delays, never locked for its owner; sign-ups are limited per address.
"""

from __future__ import annotations

import asyncio
from collections import Counter

import httpx

from netra.apps.all_in_one import create_app
from support.accounts import STRONG_PASSWORD, new_email, signup
from support.apps import running_app


def _from(address: str) -> dict[str, str]:
    return {"X-Forwarded-For": address}


async def _login(
    client: httpx.AsyncClient, email: str, password: str, **headers: str
) -> httpx.Response:
    return await client.post("/auth/login", json={"email": email, "password": password},
                             headers=headers)  # fmt: skip


async def test_200_parallel_guesses_get_at_most_the_limit_evaluated(pg_settings) -> None:  # type: ignore[no-untyped-def]
    settings = pg_settings(
        embedded_workers=False, login_max_failures=5, trusted_proxies="127.0.0.1"
    )
    async with running_app(create_app(settings)) as client:
        victim = await signup(client)
        # From one address.
        answers = await asyncio.gather(
            *(_login(client, victim["email"], f"wrong-guess-{i}") for i in range(200))
        )
        codes = Counter(a.status_code for a in answers)
        assert codes[401] <= 5 and codes[401] + codes[429] == 200, codes
        assert all(int(a.headers["retry-after"]) >= 1 for a in answers if a.status_code == 429)
        # From 200 addresses (a botnet behind the trusted proxy): the account's own gate lets
        # one more through per delay, whatever the address.
        answers = await asyncio.gather(
            *(
                _login(client, victim["email"], f"other-guess-{i}", **_from(f"203.0.113.{i}"))
                for i in range(200)
            )
        )
        codes = Counter(a.status_code for a in answers)
        assert codes[401] <= 1 and codes[401] + codes[429] == 200, codes


async def test_an_attacked_account_is_slowed_not_locked(pg_settings) -> None:  # type: ignore[no-untyped-def]
    settings = pg_settings(
        embedded_workers=False, login_max_failures=3, login_delay_base_s=0.5,
        login_delay_max_s=2.0, trusted_proxies="127.0.0.1",
    )  # fmt: skip
    async with running_app(create_app(settings)) as client:
        owner = await signup(client)
        for i in range(30):  # a stranger who knows only the e-mail address
            await _login(client, owner["email"], f"guess-{i}", **_from("198.51.100.7"))
        # The owner, from elsewhere, waits at most the longest delay, then signs in.
        loop = asyncio.get_running_loop()
        started = loop.time()
        while True:
            answer = await _login(client, owner["email"], owner["password"], **_from("192.0.2.55"))
            if answer.status_code == 200:
                break
            assert answer.status_code == 429, answer.text
            assert int(answer.headers["retry-after"]) <= 2
            assert loop.time() - started < 15, "the owner is locked out"
            await asyncio.sleep(0.1)
        assert "access_token" in answer.json()


async def test_forwarded_for_is_ignored_from_untrusted_peers(pg_settings) -> None:  # type: ignore[no-untyped-def]
    settings = pg_settings(embedded_workers=False, login_ip_max_failures=6, trusted_proxies="")
    async with running_app(create_app(settings)) as client:
        codes = []
        for i in range(8):
            spoofed = _from(f"10.9.8.{i}")
            codes.append((await _login(client, new_email("x"), "wrong", **spoofed)).status_code)
        assert codes == [401] * 6 + [429, 429]  # keyed by the peer, not by the header


async def test_sign_ups_are_limited_per_address(pg_settings) -> None:  # type: ignore[no-untyped-def]
    settings = pg_settings(embedded_workers=False, register_ip_max=3, trusted_proxies="127.0.0.1")
    async with running_app(create_app(settings)) as client:

        async def register(address: str) -> httpx.Response:
            body = {"email": new_email("reg"), "password": STRONG_PASSWORD}
            return await client.post("/auth/register", json=body, headers=_from(address))

        codes = [(await register("198.51.100.20")).status_code for _ in range(5)]
        assert codes == [201, 201, 201, 429, 429]
        assert (await register("198.51.100.21")).status_code == 201
