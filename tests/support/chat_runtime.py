"""In-process pieces for chat unit tests: a fake socket, roomy run limits.

The runtime itself is ``support.runtime.started_runtime`` (the ``runtime`` fixture of tests/unit).
"""

from __future__ import annotations

import asyncio
import dataclasses
import json
from typing import Any

from netra.auth.tokens import AccessClaims
from netra.auth.verifier import TokenVerifier
from netra.core.settings import Settings
from netra.tiers import TierLimits, limits_for


class AcceptingVerifier(TokenVerifier):
    """Connections under unit test carry a placeholder token: every one is valid, except
    those listed in ``revoked``."""

    def __init__(self) -> None:
        self.revoked: set[str] = set()

    async def verify(self, token: str, **_: Any) -> AccessClaims:
        from netra.core.errors import Unauthenticated

        if token in self.revoked:
            raise Unauthenticated("token revoked")
        return AccessClaims("u", "o", "free", "member", (), "jti", 0, 2**31)

    async def verify_in(self, session: Any, token: str) -> AccessClaims:
        return await self.verify(token)


class FakeSocket:
    """The part of Starlette's WebSocket a Connection uses; records what was sent."""

    def __init__(self, block_sends: bool = False) -> None:
        self.inbox: asyncio.Queue[dict[str, Any]] = asyncio.Queue()
        self.sent: list[dict[str, Any]] = []
        self.closed: tuple[int, str] | None = None
        self.block_sends = block_sends
        self.new_frame = asyncio.Event()
        self.scope: dict[str, Any] = {"type": "websocket", "headers": [(b"host", b"test")]}

    async def receive(self) -> dict[str, Any]:
        return await self.inbox.get()

    async def send_text(self, text: str) -> None:
        if self.block_sends:
            await asyncio.Event().wait()  # a client that never reads
        self.sent.append(json.loads(text))
        self.new_frame.set()

    async def close(self, code: int = 1000, reason: str | None = None) -> None:
        self.closed = (code, reason or "")
        await self.inbox.put({"type": "websocket.disconnect", "code": code})

    def client_sends(self, frame: dict[str, Any] | str) -> None:
        text = frame if isinstance(frame, str) else json.dumps(frame)
        self.inbox.put_nowait({"type": "websocket.receive", "text": text})

    def client_leaves(self) -> None:
        self.inbox.put_nowait({"type": "websocket.disconnect", "code": 1000})

    async def wait_for(self, predicate: Any, wait_s: float = 5) -> dict[str, Any]:
        """The first frame sent matching ``predicate`` (waiting for it)."""
        loop = asyncio.get_running_loop()
        deadline = loop.time() + wait_s
        while True:
            for frame in self.sent:
                if predicate(frame):
                    return frame
            self.new_frame.clear()
            remaining = deadline - loop.time()
            if remaining <= 0:
                raise TimeoutError(f"no matching frame in {self.sent!r}")
            try:
                await asyncio.wait_for(self.new_frame.wait(), remaining)
            except TimeoutError:
                pass

    def run_events(self, run_id: str) -> list[dict[str, Any]]:
        return [f for f in self.sent if f.get("run_id") == run_id]


def roomy_limits() -> TierLimits:
    """Tier limits whose run limits no unit test reaches (tests of other behaviour)."""
    base = limits_for(Settings(env="test"), "enterprise")
    return dataclasses.replace(base, runs_per_user=100, runs_per_org=100)
