"""A replica's copy of the revocation denylist, reloaded whenever a revocation is heard.

The denylist lives in the database (:mod:`netra.auth.revocation`); asking it cost a round trip
per WebSocket connect and per periodic re-check of every open socket, which profiling showed as
the largest single cost of a connect (bench/README.md, "Realtime"). The list is small (an entry
lives only as long as the tokens it covers), and every revocation is published on
:data:`~netra.auth.revocation.REVOCATIONS_CHANNEL` after it is committed. So a replica that hears
that channel keeps the whole list in memory and answers from it, as safely as the database:

- on every message heard (and on (re)subscribing) the copy is marked stale at once and reloaded;
  until the reload that began *after* the message has finished, every check asks the database;
- while this replica is not subscribed (Redis down, reconnecting) the copy is not used;
- the copy is reloaded every ``ttl_s / 2`` and not used once older than ``ttl_s``, so a message
  lost on a live subscription costs at most ``ttl_s`` (the sockets' own periodic re-check, which
  now uses the copy, had a 25 s period before);
- too large a list (``MAX_ENTRIES``) is not copied: checks ask the database.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime

import structlog
from sqlalchemy import func, select

from netra.auth.models import TokenRevocation
from netra.auth.revocation import REVOCATIONS_CHANNEL
from netra.core.bus import Bus, listen_forever
from netra.core.db import Database, utcnow

log = structlog.get_logger("netra.auth.revocation")

MAX_ENTRIES = 200_000


@dataclass
class Denylist:
    jti: dict[str, datetime] = field(default_factory=dict)  # key -> entry expiry
    sid: dict[str, datetime] = field(default_factory=dict)
    user: dict[str, list[tuple[int, datetime]]] = field(default_factory=dict)  # cutoffs

    def revoked(self, jti: str, user_id: str | None, iat: int, sid: str | None) -> bool:
        """The same rule as :func:`netra.auth.revocation.is_revoked`."""
        now = utcnow()
        if (exp := self.jti.get(jti)) is not None and exp > now:
            return True
        if sid is not None and (exp := self.sid.get(sid)) is not None and exp > now:
            return True
        if user_id is not None:
            return any(cutoff >= iat and exp > now for cutoff, exp in self.user.get(user_id, ()))
        return False


class RevocationCache:
    def __init__(
        self, db: Database, bus: Bus, ttl_s: float, clock: Callable[[], float] = time.monotonic
    ) -> None:
        self.db = db
        self.bus = bus
        self.ttl_s = ttl_s
        self.clock = clock
        self.generation = 0  # bumped by every revocation heard
        self._list: Denylist | None = None
        self._list_generation = -1  # the generation the copy was loaded in
        self._loaded_at = 0.0
        self._wanted = asyncio.Event()  # a reload is due
        self.listening = asyncio.Event()
        self._tasks: list[asyncio.Task[None]] = []

    # ---- checks ---------------------------------------------------------------------------

    def revoked(self, jti: str, user_id: str | None, iat: int, sid: str | None) -> bool | None:
        """The answer from the copy, or None when it cannot be trusted (ask the database)."""
        if not self.usable():
            return None
        assert self._list is not None
        return self._list.revoked(jti, user_id, iat, sid)

    def usable(self) -> bool:
        return (
            self.ttl_s > 0
            and self.listening.is_set()
            and self._list is not None
            and self._list_generation == self.generation
            and self.clock() - self._loaded_at < self.ttl_s
        )

    # ---- keeping the copy -----------------------------------------------------------------

    def heard(self) -> None:
        """A revocation was heard (or may have been missed): the copy is stale from now on."""
        self.generation += 1
        self._wanted.set()

    async def reload(self) -> None:
        generation = self.generation  # a message heard while loading makes this copy stale
        started = self.clock()
        entry = TokenRevocation
        stmt = select(entry.kind, entry.key, entry.cutoff, entry.expires_at).where(
            entry.expires_at > utcnow()
        )
        async with self.db.sessions() as session:
            count = (
                await session.execute(
                    select(func.count()).select_from(entry).where(entry.expires_at > utcnow())
                )
            ).scalar_one()
            if count > MAX_ENTRIES:
                self._list = None
                log.warning("revocation list too large to copy; asking the database", count=count)
                return
            rows = (await session.execute(stmt)).all()
        fresh = Denylist()
        for kind, key, cutoff, expires in rows:
            if kind == "jti":
                fresh.jti[key] = expires
            elif kind == "sid":
                fresh.sid[key] = expires
            elif kind == "user":
                fresh.user.setdefault(key, []).append((cutoff, expires))
        self._list, self._list_generation, self._loaded_at = fresh, generation, started

    async def _reloader(self) -> None:
        while True:
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._wanted.wait(), max(0.1, self.ttl_s / 2))
            self._wanted.clear()
            try:
                await self.reload()
            except asyncio.CancelledError:
                raise
            except Exception as exc:  # the database is away: checks ask it (and fail closed)
                log.warning("revocation list reload failed", error=str(exc))
                await asyncio.sleep(0.5)
                self._wanted.set()

    async def _listen(self) -> None:
        # Messages may have been missed while not subscribed: the copy is stale either side.
        await listen_forever(
            self.bus, REVOCATIONS_CHANNEL, lambda _: self.heard(), self.listening,
            on_subscribed=self.heard, on_lost=self.heard,
        )  # fmt: skip

    async def start(self) -> None:
        if self.ttl_s <= 0:
            return
        self._tasks = [
            asyncio.create_task(self._listen(), name="token-revocations"),
            asyncio.create_task(self._reloader(), name="token-revocations-reload"),
        ]
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(self.listening.wait(), 5)

    async def stop(self) -> None:
        for task in self._tasks:
            task.cancel()
        for task in self._tasks:
            with contextlib.suppress(asyncio.CancelledError):
                await task
        self._tasks = []
