"""Sign-up helpers for tests: register through the real API, log in, hand back the tokens."""

from __future__ import annotations

import atexit
import shutil
import tempfile
import uuid
from pathlib import Path
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


_TEMPLATES: dict[str, Path] = {}


async def migrated(settings: Any) -> Any:
    """``settings`` after applying the migrations to its database (apps other than ``serve``
    expect ``netra migrate`` to have run). SQLite files are copied from one migrated template
    per test session, so each test still gets its own database without migrating again."""
    from netra.core.db import Database
    from netra.core.migrate import upgrade

    url: str = settings.effective_database_url
    target = Path(url.split("///", 1)[1]) if url.startswith("sqlite+aiosqlite:///") else None
    if target is not None and "sqlite" in _TEMPLATES:
        target.parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(_TEMPLATES["sqlite"], target)
        return settings
    db = Database(settings)
    try:
        await upgrade(db.engine)
    finally:
        await db.close()
    if target is not None:
        folder = tempfile.mkdtemp(prefix="netra-template-")
        atexit.register(shutil.rmtree, folder, True)
        template = Path(folder) / "migrated.db"
        shutil.copyfile(target, template)
        _TEMPLATES["sqlite"] = template
    return settings
