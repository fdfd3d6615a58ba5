"""Auth service HTTP routes (prefix ``/auth``)."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter

from netra.core.deps import RuntimeDep

router = APIRouter(prefix="/auth", tags=["auth"])


@router.get("/.well-known/jwks.json")
async def jwks(runtime: RuntimeDep) -> dict[str, Any]:
    from netra.auth.component import KEYS

    jwks: dict[str, Any] = runtime.extras[KEYS].public_jwks()
    return jwks
