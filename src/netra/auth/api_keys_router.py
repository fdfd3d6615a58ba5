"""HTTP endpoints: ``/api/v1/api-keys`` (API.md "Machine access"), for owners and admins.

A key is created and revoked by a person (access token with ``api_keys:write``), never by a
key. Revocation commits first, then tells every replica, so no replica can re-read the key as
valid after it dropped it from its cache.
"""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Request
from pydantic import BaseModel, ConfigDict, Field

from netra.auth import api_keys
from netra.auth.deps import get_key_verifier, require
from netra.core.audit import record_audit
from netra.core.context import UserContext
from netra.core.deps import RuntimeDep, SessionDep

router = APIRouter(prefix="/api/v1/api-keys", tags=["api-keys"])


class ApiKeyIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    name: str = Field(min_length=1, max_length=200)
    scopes: list[str] = Field(
        min_length=1, max_length=len(api_keys.KEY_SCOPES), description="usage:write, ..."
    )


def _ip(request: Request) -> str | None:
    return request.client.host if request.client else None


@router.post("", status_code=201, summary="Create an API key (shown this once)")
async def create_api_key(
    body: ApiKeyIn,
    request: Request,
    session: SessionDep,
    user: UserContext = require("api_keys:write"),
) -> dict[str, Any]:
    row, key = await api_keys.create_key(session, user, body.name, body.scopes)
    record_audit(
        session,
        "api_key.create",
        org_id=user.org_id,
        user_id=user.user_id,
        ip=_ip(request),
        key_id=row.id,
        name=row.name,
        scopes=row.scopes,
    )
    shown = api_keys.describe(row)
    created = {name: shown[name] for name in ("id", "name", "prefix", "scopes", "created_at")}
    return {**created, "key": key}


@router.get("", summary="The organisation's API keys (never the keys themselves)")
async def list_api_keys(
    session: SessionDep, user: UserContext = require("api_keys:write")
) -> dict[str, Any]:
    rows = await api_keys.list_keys(session, user.org_id)
    return {"api_keys": [api_keys.describe(row) for row in rows]}


@router.delete("/{key_id}", summary="Revoke an API key, at once on every replica")
async def revoke_api_key(
    key_id: str,
    request: Request,
    runtime: RuntimeDep,
    user: UserContext = require("api_keys:write"),
) -> dict[str, Any]:
    async def revoke(session: Any) -> dict[str, Any]:
        row = await api_keys.revoke_key(session, user.org_id, key_id)
        record_audit(
            session,
            "api_key.revoke",
            org_id=user.org_id,
            user_id=user.user_id,
            ip=_ip(request),
            key_id=row.id,
            name=row.name,
        )
        return api_keys.describe(row)

    described = await runtime.db.run(revoke)  # committed before any replica is told
    get_key_verifier(runtime).forget(key_id)
    await api_keys.publish_key_revocation(runtime.bus, key_id)
    return described
