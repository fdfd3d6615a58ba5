"""``GET /ws``: the netra.v1 handshake (Origin, token, connection limit), then the connection.

Refusals, in order: a browser Origin not allowed gets HTTP 403 (no socket); a missing, invalid,
expired or revoked token gets the socket closed with 4401 (never 1011, never a session); a
dependency down during the check gets 1013; a token whose role may not read chats gets HTTP
403; the user's connection limit gets 4429. There is no
bypass of any of these in any environment.
"""

from __future__ import annotations

import contextlib

import structlog
from fastapi import APIRouter, WebSocket

from netra.auth.deps import get_verifier
from netra.chat.connection import Connection
from netra.chat.handshake import extract_token, origin_allowed
from netra.chat.hub import HUB
from netra.core.db import new_id
from netra.core.errors import DependencyUnavailable, Unauthenticated
from netra.core.runtime import Runtime
from netra.tiers import Limit, limits_for, refusal

log = structlog.get_logger("netra.chat.ws")

router = APIRouter()


async def _refuse(ws: WebSocket, runtime: Runtime, subprotocol: str | None, code: int,
                  reason: str) -> None:  # fmt: skip
    runtime.metrics.ws_closes.labels(str(code)).inc()
    with contextlib.suppress(Exception):
        await ws.accept(subprotocol=subprotocol)
        await ws.close(code, reason)


@router.websocket_route("/ws")  # plain Starlette route: no per-socket dependency scopes
async def websocket_endpoint(ws: WebSocket) -> None:
    runtime: Runtime = ws.app.state.runtime
    settings = runtime.settings
    if not origin_allowed(ws.headers.get("origin"), settings.origins, ws.headers.get("host")):
        runtime.metrics.ws_closes.labels("403").inc()
        await ws.close(1008)  # before accept: the handshake is refused with HTTP 403
        return
    auth = extract_token(
        ws.headers.get("authorization"), ws.scope.get("subprotocols") or [], ws.query_params.keys()
    )
    if auth.token is None:
        await _refuse(ws, runtime, auth.subprotocol, 4401, auth.reason)
        return
    verifier = get_verifier(runtime)
    cache = getattr(verifier, "cache", None)  # the replica's denylist copy, when it has one
    generation = cache.generation if cache is not None else 0
    try:
        claims = await verifier.verify(auth.token, cached=True)
    except Unauthenticated as exc:
        await _refuse(ws, runtime, auth.subprotocol, 4401, exc.message)
        return
    except DependencyUnavailable:
        await _refuse(ws, runtime, auth.subprotocol, 1013, "authentication unavailable")
        return
    except Exception as exc:  # authentication failure is never 1011
        log.warning("token check failed", error=repr(exc))
        await _refuse(ws, runtime, auth.subprotocol, 4401, "invalid token")
        return
    ctx = claims.context(connection_id=new_id())
    if not ctx.can("chat:read"):
        # Not allowed (a valid token of a role without chats): the handshake is refused with
        # HTTP 403 like a foreign Origin; PROTOCOL.md has no close code for it.
        runtime.metrics.ws_closes.labels("403").inc()
        await ws.close(1008)
        return
    hub = runtime.services[HUB]
    limits = limits_for(settings, ctx.tier)
    try:
        slot = await hub.slots.acquire(ctx.user_id, limits.ws_connections, str(ctx.connection_id))
    except Exception:
        await _refuse(ws, runtime, auth.subprotocol, 1013, "connection registry unavailable")
        return
    if slot is None:  # the slots count atomically across replicas; the refusal is the table's
        refused = refusal(limits, Limit.WS_CONNECTIONS)
        await _refuse(ws, runtime, auth.subprotocol, 4429, refused.message)
        return
    try:
        await ws.accept(subprotocol=auth.subprotocol)
        conn = Connection(ws, ctx, auth.token, runtime, hub, slot)
        conn.verified_generation = generation
        await conn.serve()
    finally:
        with contextlib.suppress(Exception):
            await hub.slots.release(slot, str(ctx.connection_id))
