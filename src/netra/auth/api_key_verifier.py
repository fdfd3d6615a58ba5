"""Verifying API keys in the API layer, against the database every service shares.

No call to the auth service is needed, so keys work wherever ``netra api`` runs. A verified key
is cached per replica for ``api_key_cache_ttl_s``; a revocation clears it at once on every
replica through the bus (:data:`API_KEY_REVOCATIONS_CHANNEL`). While this replica is not
subscribed to that channel (Redis down, reconnecting) the cache is bypassed, so a revocation is
never missed for longer than a message in flight. Only good keys are cached; a database that
cannot answer fails closed (503), never open.

``last_used_at`` is written in the background at most once per ``api_key_touch_interval_s``
per key: each replica checks its own clock first, then claims the interval in the shared cache
(Redis) so several replicas serving one key still write once. A busy key costs no write, and
no Redis call, per request.
"""

from __future__ import annotations

import asyncio
import contextlib
import hmac
import json
import time
from collections import OrderedDict
from dataclasses import dataclass
from typing import Any

import structlog
from sqlalchemy import select, update
from sqlalchemy.ext.asyncio import AsyncSession

from netra.auth.api_keys import (
    API_KEY_REVOCATIONS_CHANNEL,
    key_hash,
    key_prefix,
    well_formed,
)
from netra.auth.models import ApiKey, Organisation
from netra.core.bus import Bus, listen_forever
from netra.core.cache import Cache
from netra.core.context import UserContext
from netra.core.db import Database, utcnow
from netra.core.errors import DependencyUnavailable, Unauthenticated

log = structlog.get_logger("netra.auth.api_keys")

_CACHE_MAX = 10_000


@dataclass(frozen=True, slots=True)
class VerifiedKey:
    key_id: str
    org_id: str
    tier: str
    scopes: frozenset[str]

    def context(self, **extra: Any) -> UserContext:
        return UserContext(
            user_id=self.key_id,
            org_id=self.org_id,
            tier=self.tier,
            role="api_key",
            permissions=self.scopes,
            kind="api_key",
            **extra,
        )


class ApiKeyVerifier:
    def __init__(
        self,
        db: Database,
        bus: Bus,
        *,
        cache_ttl_s: float,
        touch_interval_s: float,
        shared: Cache | None = None,
    ) -> None:
        self.db = db
        self.bus = bus
        self.shared = shared
        self.cache_ttl_s = cache_ttl_s
        self.touch_interval_s = touch_interval_s
        self._cache: OrderedDict[str, tuple[float, VerifiedKey]] = OrderedDict()
        self._revocations = 0  # bumped by every revocation seen: a lookup racing one is not cached
        self._touched: dict[str, float] = {}
        self._writes: set[asyncio.Task[None]] = set()
        self._listener: asyncio.Task[None] | None = None
        self.listening = asyncio.Event()

    # ---- verification ---------------------------------------------------------------------

    async def verify(self, key: str, **extra: Any) -> UserContext:
        if not well_formed(key):
            raise Unauthenticated("invalid API key")
        digest = key_hash(key)
        found = self._cached(digest)
        if found is None:
            seen = self._revocations
            found = await self._load(key, digest)
            if self.listening.is_set() and seen == self._revocations:
                self._remember(digest, found)
        self._touch(found.key_id)
        return found.context(**extra)

    def _cached(self, digest: str) -> VerifiedKey | None:
        if not self.listening.is_set():
            return None
        entry = self._cache.get(digest)
        if entry is None:
            return None
        expires, found = entry
        if time.monotonic() >= expires:
            del self._cache[digest]
            return None
        return found

    def _remember(self, digest: str, found: VerifiedKey) -> None:
        self._cache[digest] = (time.monotonic() + self.cache_ttl_s, found)
        self._cache.move_to_end(digest)
        while len(self._cache) > _CACHE_MAX:
            self._cache.popitem(last=False)

    async def _load(self, key: str, digest: str) -> VerifiedKey:
        stmt = (
            select(ApiKey, Organisation.tier)
            .join(Organisation, Organisation.id == ApiKey.org_id)
            .where(ApiKey.prefix == key_prefix(key))
        )
        try:
            async with self.db.sessions() as session:
                rows = (await session.execute(stmt)).all()
        except Exception as exc:  # fail closed
            raise DependencyUnavailable("API key check unavailable") from exc
        for row, tier in rows:
            # Every candidate is compared, in constant time, whatever matched before.
            if hmac.compare_digest(row.key_hash, digest):
                if row.revoked_at is not None:
                    raise Unauthenticated("API key revoked")
                return VerifiedKey(row.id, row.org_id, tier, frozenset(row.scopes))
        raise Unauthenticated("invalid API key")

    # ---- last_used_at -------------------------------------------------------------------

    def _touch(self, key_id: str) -> None:
        now = time.monotonic()
        last = self._touched.get(key_id)
        if last is not None and now - last < self.touch_interval_s:
            return
        self._touched[key_id] = now
        task = asyncio.create_task(self._write_last_used(key_id), name="api-key-last-used")
        self._writes.add(task)
        task.add_done_callback(self._writes.discard)

    async def _claim_interval(self, key_id: str) -> bool:
        """Whether this replica writes this interval's ``last_used_at`` (True without Redis)."""
        if self.shared is None or self.touch_interval_s <= 0:
            return True
        try:
            return await self.shared.set_if_absent(
                f"api_key_used:{key_id}", b"1", ttl_s=self.touch_interval_s
            )
        except Exception:  # the shared cache is down: write, bookkeeping stays correct
            return True

    async def _write_last_used(self, key_id: str) -> None:
        if not await self._claim_interval(key_id):
            return

        async def write(session: AsyncSession) -> None:
            await session.execute(
                update(ApiKey).where(ApiKey.id == key_id).values(last_used_at=utcnow())
            )

        try:
            await self.db.run(write)
        except Exception as exc:  # bookkeeping only: the request itself succeeded
            self._touched.pop(key_id, None)
            log.warning("API key last_used_at not written", key_id=key_id, error=str(exc))

    # ---- revocations ----------------------------------------------------------------------

    def forget(self, key_id: str) -> None:
        """Drop a revoked key from this replica's cache."""
        self._revocations += 1
        for digest in [d for d, (_, k) in self._cache.items() if k.key_id == key_id]:
            del self._cache[digest]

    def _on_message(self, raw: bytes) -> None:
        try:
            key_id = str(json.loads(raw)["key_id"])
        except (ValueError, KeyError, TypeError):
            log.warning("malformed API key revocation message")
            return
        self.forget(key_id)

    async def _listen(self) -> None:
        # Messages may have been missed while not subscribed: start from nothing.
        await listen_forever(self.bus, API_KEY_REVOCATIONS_CHANNEL, self._on_message,
                             self.listening, on_subscribed=self._cache.clear)  # fmt: skip

    async def start(self) -> None:
        self._listener = asyncio.create_task(self._listen(), name="api-key-revocations")
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(self.listening.wait(), 5)

    async def stop(self) -> None:
        if self._listener is not None:
            self._listener.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._listener
        if self._writes:
            await asyncio.wait(set(self._writes), timeout=5)
