"""Sign-up helpers for tests: register through the real API, log in, hand back the tokens."""

from __future__ import annotations

import uuid
from typing import Any

import httpx

STRONG_PASSWORD = "Tr0ub4dor-&-Amber-Lake-42"


def new_email(prefix: str = "user") -> str:
    return f"{prefix}-{uuid.uuid4().hex[:10]}@example.com"


def _result(
    register: httpx.Response, login: httpx.Response, email: str, password: str
) -> dict[str, Any]:
    assert register.status_code == 201, register.text
    assert login.status_code == 200, login.text
    tokens = login.json()
    return {
        "user": register.json()["user"],
        "access_token": tokens["access_token"],
        "refresh_token": tokens["refresh_token"],
        "email": email,
        "password": password,
    }


async def signup(
    client: httpx.AsyncClient,
    email: str | None = None,
    password: str = STRONG_PASSWORD,
    **extra: Any,
) -> dict[str, Any]:
    """Register (``extra``: name, org_name), log in; {"user", "access_token", "refresh_token",
    "email", "password"}."""
    email = email or new_email()
    register = await client.post(
        "/auth/register", json={"email": email, "password": password, **extra}
    )
    login = await client.post("/auth/login", json={"email": email, "password": password})
    return _result(register, login, email, password)


def signup_sync(
    base_url: str,
    email: str | None = None,
    password: str = STRONG_PASSWORD,
    **extra: Any,
) -> dict[str, Any]:
    """The same against a real server process at ``base_url``."""
    email = email or new_email()
    with httpx.Client(base_url=base_url, timeout=30) as client:
        register = client.post(
            "/auth/register", json={"email": email, "password": password, **extra}
        )
        login = client.post("/auth/login", json={"email": email, "password": password})
    return _result(register, login, email, password)


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


async def migrated(settings: Any) -> Any:
    """``settings`` after applying the migrations to its database (apps other than ``serve``
    expect ``netra migrate`` to have run)."""
    from netra.core.db import Database
    from netra.core.migrate import upgrade

    db = Database(settings)
    try:
        await upgrade(db.engine)
    finally:
        await db.close()
    return settings
