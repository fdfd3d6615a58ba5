"""Organisations with several members for tests: invite through the API, register, log in."""

from __future__ import annotations

from typing import Any

import httpx

from support.accounts import STRONG_PASSWORD, bearer, new_email


async def invite(client: httpx.AsyncClient, token: str, role: str, email: str | None = None
                 ) -> dict[str, Any]:  # fmt: skip
    answer = await client.post(
        "/api/v1/invitations", json={"email": email or new_email(role), "role": role},
        headers=bearer(token),
    )  # fmt: skip
    assert answer.status_code == 201, answer.text
    body: dict[str, Any] = answer.json()
    return body


async def join(client: httpx.AsyncClient, invitation: dict[str, Any]) -> dict[str, Any]:
    """Register with the invitation and log in: {"user", "access_token", "refresh_token"}."""
    email = invitation["email"]
    register = await client.post(
        "/auth/register",
        json={"email": email, "password": STRONG_PASSWORD, "invitation": invitation["token"]},
    )
    assert register.status_code == 201, register.text
    login = await client.post("/auth/login", json={"email": email, "password": STRONG_PASSWORD})
    assert login.status_code == 200, login.text
    return {"user": register.json()["user"], "email": email, **login.json()}


async def add_member(client: httpx.AsyncClient, owner_token: str, role: str) -> dict[str, Any]:
    return await join(client, await invite(client, owner_token, role))
