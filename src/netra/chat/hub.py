"""The connection hub of one API replica: its open connections, their timer, revocations,
shutdown.

Run events do not pass through the hub: each connection subscribes to its own user's bus
channel, so a replica receives the events of the users connected to it and nobody else's.
The hub listens to the ``revocations`` channel and closes the matching local sockets with
4401; at shutdown it closes every socket with 1012 (service restart: the client reconnects
and resumes; uvicorn itself closes the sockets it still holds with 1012 too). One timer, running
while sockets are open, ticks every socket's periodic checks (``Connection.check``).
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import time
from collections import defaultdict

import structlog

from netra.auth.revocation import REVOCATIONS_CHANNEL
from netra.chat.connection import Connection
from netra.core.bus import listen_forever
from netra.core.runtime import Runtime
from netra.core.services import Service
from netra.core.slots import Slots

log = structlog.get_logger("netra.chat.hub")

HUB: Service[ConnectionHub] = Service("chat_connection_hub")


class ConnectionHub:
    def __init__(self, runtime: Runtime, *, tick_s: float = 0.5) -> None:
        self.runtime = runtime
        # The user's open sockets across replicas; with the cache away a socket is refused
        # (1013), never counted locally.
        self.slots = Slots(runtime.cache, "ws", local_fallback=False)
        self._renewing: asyncio.Task[None] | None = None
        self.tick_s = tick_s
        self._by_user: dict[str, set[Connection]] = defaultdict(set)
        self._task: asyncio.Task[None] | None = None
        self._timer: asyncio.Task[None] | None = None
        self._listening = asyncio.Event()

    # ---- registry -----------------------------------------------------------------------

    def register(self, conn: Connection) -> None:
        self._by_user[conn.ctx.user_id].add(conn)
        if self._timer is None or self._timer.done():
            self._timer = asyncio.create_task(self._tick(), name="ws-timer")

    def unregister(self, conn: Connection) -> None:
        conns = self._by_user.get(conn.ctx.user_id)
        if conns is not None:
            conns.discard(conn)
            if not conns:
                del self._by_user[conn.ctx.user_id]

    def connections_of(self, user_id: str) -> set[Connection]:
        return set(self._by_user.get(user_id, ()))

    def count(self) -> int:
        return sum(len(c) for c in self._by_user.values())

    # ---- the sockets' timer ----------------------------------------------------------------

    async def _tick(self) -> None:
        """Every ``tick_s`` while sockets are open, each one's periodic checks (heartbeat
        timeout, token expiry, revocation, catch-up): one timer, not a task per socket."""
        while self._by_user:
            await asyncio.sleep(self.tick_s)
            now = time.monotonic()
            leases: list[tuple[str, str]] = []
            for conns in list(self._by_user.values()):
                for conn in list(conns):
                    try:
                        conn.check()
                        lease = conn.lease_due(now)
                        if lease is not None:
                            leases.append(lease)
                    except Exception as exc:  # one socket's fault never stops the others'
                        log.error("socket check failed", error=repr(exc))
                        conn.request_close(1011, "unexpected server fault")
            # The due slot leases renewed together (one round trip per few hundred), not by a
            # task and two round trips per socket.
            if leases and (self._renewing is None or self._renewing.done()):
                self._renewing = asyncio.create_task(self.slots.renew(leases), name="ws-leases")

    # ---- revocations ----------------------------------------------------------------------

    def revoke(
        self, user_id: str, jti: str | None, everything: bool, sid: str | None = None
    ) -> int:
        """Close the local sockets of a revoked token, of every token of a sign-in session
        (logout), or of every token of the user."""
        closed = 0
        for conn in self.connections_of(user_id):
            if (
                everything
                or (jti is not None and conn.ctx.token_id == jti)
                or (sid is not None and conn.ctx.session_id == sid)
            ):
                conn.request_close(4401, "token revoked")
                closed += 1
        return closed

    async def _listen(self) -> None:
        await listen_forever(self.runtime.bus, REVOCATIONS_CHANNEL, self._on_revocation,
                             self._listening)  # fmt: skip

    def _on_revocation(self, raw: bytes) -> None:
        try:
            data = json.loads(raw)
            user_id = str(data["user_id"])
            jti = data.get("jti")
            sid = data.get("sid")
            everything = bool(data.get("all", False))
        except (ValueError, KeyError, TypeError):
            log.warning("malformed revocation message")
            return
        self.revoke(user_id, str(jti) if jti else None, everything, str(sid) if sid else None)

    # ---- life -----------------------------------------------------------------------------

    async def start(self) -> None:
        self._task = asyncio.create_task(self._listen(), name="chat-revocations")
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(self._listening.wait(), 5)

    async def stop(self) -> None:
        for task in (self._task, self._timer, self._renewing):
            if task is not None:
                task.cancel()
                with contextlib.suppress(asyncio.CancelledError):
                    await task
        for conns in list(self._by_user.values()):
            for conn in list(conns):
                conn.request_close(1012, "service restart")
        for _ in range(40):  # let them send their close frames (at most 2 s)
            if not self._by_user:
                break
            await asyncio.sleep(0.05)
