"""HTTP endpoints: ``/api/v1/api-keys`` (API.md "Machine access"), for owners and admins.

An organisation holds at most its tier's ``max_api_keys`` active keys (tiers.py; 403
past it: revoke one or upgrade).

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
from netra.core.audit import record_audit, request_ip
from netra.core.context import UserContext
from netra.core.deps import RuntimeDep, SessionDep
from netra.core.inputs import PathId, Text
from netra.core.openapi import responses
from netra.tiers import Limit, check, limits_for

router = APIRouter(prefix="/api/v1/api-keys", tags=["api-keys"])


class ApiKeyIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    name: Text = Field(min_length=1, max_length=200)
    scopes: list[Text] = Field(
        min_length=1, max_length=len(api_keys.KEY_SCOPES), description="usage:write, ..."
    )


class ApiKeyOut(BaseModel):
    id: str
    name: str
    prefix: str
    scopes: list[str]
    created_at: str | None
    last_used_at: str | None = None
    revoked_at: str | None = None


class ApiKeyCreated(BaseModel):
    id: str
    name: str
    prefix: str
    scopes: list[str]
    created_at: str | None
    key: str = Field(description="nk_...: shown this once, stored only as a hash")


class ApiKeyList(BaseModel):
    api_keys: list[ApiKeyOut]


@router.post(
    "",
    status_code=201,
    summary="Create an API key (shown this once)",
    response_model=ApiKeyCreated,
)
async def create_api_key(
    body: ApiKeyIn,
    request: Request,
    session: SessionDep,
    runtime: RuntimeDep,
    user: UserContext = require("api_keys:write"),
) -> dict[str, Any]:
    active = await api_keys.count_active(session, user.org_id)
    check(limits_for(runtime.settings, user.tier), Limit.MAX_API_KEYS, active)
    row, key = await api_keys.create_key(session, user, body.name, body.scopes)
    record_audit(
        session,
        "api_key.create",
        org_id=user.org_id,
        user_id=user.user_id,
        ip=request_ip(request),
        key_id=row.id,
        name=row.name,
        scopes=row.scopes,
    )
    shown = api_keys.describe(row)
    created = {name: shown[name] for name in ("id", "name", "prefix", "scopes", "created_at")}
    return {**created, "key": key}


@router.get(
    "",
    summary="The organisation's API keys (never the keys themselves)",
    response_model=ApiKeyList,
)
async def list_api_keys(
    session: SessionDep, user: UserContext = require("api_keys:write")
) -> dict[str, Any]:
    rows = await api_keys.list_keys(session, user.org_id)
    return {"api_keys": [api_keys.describe(row) for row in rows]}


@router.delete(
    "/{key_id}",
    summary="Revoke an API key, at once on every replica",
    response_model=ApiKeyOut,
    responses=responses(404),
)
async def revoke_api_key(
    key_id: PathId,
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
            ip=request_ip(request),
            key_id=row.id,
            name=row.name,
        )
        return api_keys.describe(row)

    described = await runtime.db.run(revoke)  # committed before any replica is told
    get_key_verifier(runtime).forget(key_id)
    await api_keys.publish_key_revocation(runtime.bus, key_id)
    return described
