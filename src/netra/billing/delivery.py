"""Webhook delivery: signed POSTs with retries and back-off, recorded attempt by attempt.

Design:
- A delivery row is the unit of work. A process *claims* a due delivery with one atomic
  UPDATE (``claimed_by`` = its token, ``next_attempt_at`` = now + lease); only the winner sends.
- Each attempt is one HTTP POST of the stored body (the same bytes every time, signed at the
  attempt: ``t`` is the attempt's time, so a retry hours later is not refused as stale),
  made outside any transaction, with a timeout, no redirects followed, the response body
  never read. 2xx: delivered. 408/425/429/5xx, timeouts and network errors: retried after an
  exponential back-off with jitter, up to ``webhook_max_attempts``. Other answers, a refused
  destination, or the last attempt: failed. Every attempt updates the row.
- Short back-offs are waited in the task; long ones (past the lease) end the task and leave
  the row to the sweeper, which re-submits due deliveries every ``webhook_sweep_interval_s``.
  That also resumes deliveries of a process that stopped or died (at least once: receivers
  de-duplicate by the event ``id``).
- Concurrency is bounded twice: a semaphore on requests in flight, and a cap on tasks held in
  memory (beyond it, deliveries wait in the table for the sweeper). A slow receiver costs one
  slot for at most the timeout; it never blocks whoever emitted the event.
- Fairness between organisations (one org's dead receiver must not delay another's): each
  organisation has its own share of requests in flight (``webhook_org_concurrency``) and of
  tasks in memory (``webhook_org_backlog``; the sweeper fetches at most that many per org), a
  rate of attempts per minute (``webhook_org_attempts_per_min``; past it, deliveries wait for
  the next minute, no attempt spent), and a circuit breaker per receiver (per organisation and
  host): after ``webhook_breaker_failures`` retryable failures in a row, its deliveries wait
  ``webhook_breaker_reset_s`` without a request (no attempt spent), then one trial.
- ``stop`` stops taking work, wakes the back-off waits, lets requests in flight finish for up
  to ``webhook_drain_s``, then cancels the rest (their rows stay pending for a later sweep).
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import random
from collections import Counter, OrderedDict
from collections.abc import AsyncIterator, Iterable
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

import httpx
import structlog
from sqlalchemy import select, update
from sqlalchemy.ext.asyncio import AsyncSession

from netra.billing.destinations import Resolver, check_destination, resolve_host
from netra.billing.models import Webhook, WebhookDelivery, WebhookEvent
from netra.billing.signing import SIGNATURE_HEADER, sign
from netra.billing.webhooks import pending_ids
from netra.core.db import new_id, utcnow
from netra.core.errors import RateLimited, ValidationFailed
from netra.core.lifecycle import Degraded
from netra.core.resilience import (
    TRANSIENT_HTTP_STATUSES,
    CircuitBreaker,
    CircuitOpen,
    CircuitState,
)
from netra.core.runtime import Runtime
from netra.core.secrets_box import secret_box
from netra.core.window_limit import WindowLimit

log = structlog.get_logger("netra.webhooks")

USER_AGENT = "Netra-Webhooks/1"


@dataclass(frozen=True, slots=True)
class Claimed:
    attempts: int  # attempts already made
    org_id: str
    url: str
    secret: str
    event_id: str
    event_type: str
    body: bytes


@dataclass(frozen=True, slots=True)
class Outcome:
    ok: bool
    retry: bool  # worth another attempt
    status_code: int | None = None
    error: str | None = None


def backoff_s(attempts: int, base_s: float, max_s: float) -> float:
    """Delay before the next attempt after ``attempts`` failures: exponential, half jitter."""
    ceiling = min(max_s, base_s * (2 ** max(0, attempts - 1)))
    return ceiling / 2 + random.uniform(0, ceiling / 2)  # jitter, not security


FAILING_STREAK = 5  # consecutive failed attempts before readiness says degraded


class WebhookDispatcher:
    def __init__(
        self,
        runtime: Runtime,
        *,
        client: httpx.AsyncClient | None = None,
        resolve: Resolver = resolve_host,
    ) -> None:
        s = runtime.settings
        self.runtime = runtime
        self.settings = s
        self.resolve = resolve
        self._client = client
        self._own_client = client is None
        self._slots = asyncio.Semaphore(max(1, s.webhook_concurrency))
        self._backlog = max(1, s.webhook_concurrency) * 64
        self._tasks: dict[str, asyncio.Task[None]] = {}
        self._task_org: dict[str, str] = {}
        self._org_tasks: Counter[str] = Counter()
        self._org_slots: dict[str, asyncio.Semaphore] = {}
        self._org_busy: Counter[str] = Counter()
        self._breakers: OrderedDict[str, CircuitBreaker] = OrderedDict()
        self._attempts = WindowLimit(runtime.cache, "webhook-attempts", 60)
        self._closing = asyncio.Event()
        self._sweeper: asyncio.Task[None] | None = None
        # Readiness: consecutive failed attempts (any endpoint) and the last sweep's error.
        self.failing_streak = 0
        self.last_error: str | None = None
        self.sweep_error: str | None = None

    # ---- lifecycle -------------------------------------------------------------------

    async def start(self, *, sweep: bool = True) -> None:
        if self._client is None:
            # Outside development each request is pinned to the address that was checked
            # (see _attempt); connections are then not kept alive, so one opened for one
            # host name is never reused for another that resolves to the same address.
            keepalive = None if self.settings.is_dev else 0
            self._client = httpx.AsyncClient(
                timeout=httpx.Timeout(self.settings.webhook_timeout_s),
                limits=httpx.Limits(max_keepalive_connections=keepalive),
                follow_redirects=False,
                trust_env=False,
                headers={"User-Agent": USER_AGENT},
            )
        if sweep:
            self._sweeper = asyncio.create_task(self._sweep_forever(), name="webhook-sweeper")

    async def stop(self) -> None:
        self._closing.set()
        if self._sweeper is not None:
            self._sweeper.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._sweeper
        tasks = list(self._tasks.values())
        if tasks:
            _, late = await asyncio.wait(tasks, timeout=self.settings.webhook_drain_s)
            for task in late:
                task.cancel()
            await asyncio.gather(*late, return_exceptions=True)
        if self._client is not None and self._own_client:
            await self._client.aclose()

    async def health(self) -> None:
        """Readiness: webhook delivery is optional (deliveries wait and are retried), so a
        problem reports ``degraded``, never ``unavailable``."""
        if self._sweeper is not None and self._sweeper.done():
            raise Degraded("the webhook sweeper stopped")
        if self.sweep_error:
            raise Degraded(f"pending deliveries cannot be read: {self.sweep_error}"[:300])
        if self.failing_streak >= FAILING_STREAK:
            raise Degraded(
                f"the last {self.failing_streak} delivery attempts failed ({self.last_error})"
            )

    @property
    def active(self) -> int:
        return len(self._tasks)

    async def idle(self) -> None:
        """Wait until no delivery task runs (tests and graceful hand-offs)."""
        while self._tasks:
            await asyncio.gather(*list(self._tasks.values()), return_exceptions=True)

    # ---- scheduling ------------------------------------------------------------------

    def submit(self, delivery_ids: Iterable[str], org_id: str | None = None) -> int:
        """Start delivering; returns how many were taken (the rest wait for the sweeper).
        With ``org_id``, the organisation's share of the backlog applies."""
        taken = 0
        share = max(1, self.settings.webhook_org_backlog)
        for delivery_id in delivery_ids:
            if self._closing.is_set() or len(self._tasks) >= self._backlog:
                break
            if delivery_id in self._tasks:
                continue
            if org_id is not None:
                if self._org_tasks[org_id] >= share:
                    break
                self._org_tasks[org_id] += 1
                self._task_org[delivery_id] = org_id
            task = asyncio.create_task(self.deliver(delivery_id), name=f"webhook-{delivery_id}")
            self._tasks[delivery_id] = task
            task.add_done_callback(functools.partial(self._forget, delivery_id))
            taken += 1
        return taken

    def _forget(self, delivery_id: str, _task: asyncio.Task[None]) -> None:
        self._tasks.pop(delivery_id, None)
        org_id = self._task_org.pop(delivery_id, None)
        if org_id is not None:
            self._org_tasks[org_id] -= 1
            if self._org_tasks[org_id] <= 0:
                del self._org_tasks[org_id]

    async def sweep_once(self) -> int:
        room = self._backlog - len(self._tasks)
        if room <= 0 or self._closing.is_set():
            return 0
        share = max(1, self.settings.webhook_org_backlog)
        rows = await self.runtime.db.run(lambda session: pending_ids(session, room, share))
        by_org: dict[str, list[str]] = {}
        for delivery_id, org_id in rows:
            if delivery_id not in self._tasks:
                by_org.setdefault(org_id, []).append(delivery_id)
        return sum(self.submit(ids, org_id=org) for org, ids in by_org.items())

    # ---- fairness ----------------------------------------------------------------------

    def _org_slot(self, org_id: str) -> asyncio.Semaphore:
        slot = self._org_slots.get(org_id)
        if slot is None:
            slot = asyncio.Semaphore(max(1, self.settings.webhook_org_concurrency))
            self._org_slots[org_id] = slot
        return slot

    @contextlib.asynccontextmanager
    async def _request_slot(self, org_id: str) -> AsyncIterator[None]:
        """The organisation's share first, then a slot of the process: a waiting org never
        holds a process slot."""
        self._org_busy[org_id] += 1
        try:
            async with self._org_slot(org_id), self._slots:
                yield
        finally:
            self._org_busy[org_id] -= 1
            if self._org_busy[org_id] <= 0:
                del self._org_busy[org_id]
                self._org_slots.pop(org_id, None)

    def breaker(self, org_id: str, url: str) -> CircuitBreaker:
        """The circuit breaker of one receiver (per organisation: another tenant pointing at
        the same host cannot open it)."""
        parts = httpx.URL(url)
        key = f"{org_id}|{parts.scheme}://{parts.host}:{parts.port or ''}"
        found = self._breakers.pop(key, None)
        if found is None:
            found = CircuitBreaker(
                f"webhook receiver {parts.host}",
                failure_threshold=max(1, self.settings.webhook_breaker_failures),
                reset_timeout_s=self.settings.webhook_breaker_reset_s,
            )
        self._breakers[key] = found  # most recently used last
        while len(self._breakers) > 10_000:
            self._breakers.popitem(last=False)
        return found

    async def _sweep_forever(self) -> None:
        while not self._closing.is_set():
            try:
                await self.sweep_once()
                self.sweep_error = None
            except Exception as exc:
                self.sweep_error = f"{type(exc).__name__}: {exc}"
                log.exception("webhook sweep failed")
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._closing.wait(), self.settings.webhook_sweep_interval_s)

    # ---- one delivery ----------------------------------------------------------------

    async def deliver(self, delivery_id: str) -> None:
        token = new_id()
        try:
            while not self._closing.is_set():
                claimed = await self._claim_in_uow(delivery_id, token)
                if claimed is None:
                    return  # delivered, failed, deleted, or taken by another process
                breaker = self.breaker(claimed.org_id, claimed.url)
                async with self._request_slot(claimed.org_id):
                    # Decided once a slot is ours: the breaker may have opened while we waited.
                    wait = await self._must_wait(claimed, breaker)
                    if wait is None:
                        outcome = await self._attempt(claimed)
                if wait is not None:
                    delay: float | None = await self._defer(delivery_id, token, *wait)
                else:
                    if outcome.ok:
                        breaker.record_success()
                        self.failing_streak, self.last_error = 0, None
                    else:
                        if outcome.retry:
                            breaker.record_failure()
                        self.failing_streak += 1
                        self.last_error = outcome.error or f"HTTP {outcome.status_code}"
                    delay = await self._record(delivery_id, token, claimed, outcome)
                if delay is None or delay > self.settings.webhook_lease_s:
                    return  # finished, or a long wait the sweeper will resume
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(self._closing.wait(), delay)
        except asyncio.CancelledError:
            raise
        except Exception:
            log.exception("webhook delivery crashed", delivery_id=delivery_id)

    async def _must_wait(
        self, claimed: Claimed, breaker: CircuitBreaker
    ) -> tuple[float, str] | None:
        """(seconds, why) when this attempt may not be made now; no attempt is spent."""
        try:
            breaker.acquire()
        except CircuitOpen as exc:
            return max(1.0, exc.retry_after_s), "receiver circuit open"
        try:
            await self._attempts.hit(
                claimed.org_id, self.settings.webhook_org_attempts_per_min, "webhook attempts"
            )
        except RateLimited as exc:
            if breaker.state is CircuitState.HALF_OPEN:
                breaker.record_failure()  # give the trial back: it was not made
            return float(exc.retry_after_s), "organisation's webhook rate"
        return None

    async def _defer(self, delivery_id: str, token: str, delay: float, why: str) -> float:
        """Put the delivery back for ``delay`` seconds, attempts unchanged."""
        now = utcnow()

        async def write(session: AsyncSession) -> None:
            await session.execute(
                update(WebhookDelivery)
                .where(WebhookDelivery.id == delivery_id, WebhookDelivery.claimed_by == token)
                .values(next_attempt_at=now + timedelta(seconds=delay), last_error=why,
                        updated_at=now)
                .execution_options(synchronize_session=False)
            )  # fmt: skip

        await self.runtime.db.run(write)
        self.runtime.metrics.webhooks.labels("deferred").inc()
        return delay

    async def _claim_in_uow(self, delivery_id: str, token: str) -> Claimed | None:
        async def work(session: AsyncSession) -> Claimed | None:
            return await self._claim(session, delivery_id, token)

        return await self.runtime.db.run(work)

    async def _claim(self, session: AsyncSession, delivery_id: str, token: str) -> Claimed | None:
        now = utcnow()
        lease = now + timedelta(seconds=self.settings.webhook_lease_s)
        d = WebhookDelivery
        result = await session.execute(
            update(d)
            .where(
                d.id == delivery_id,
                d.status == "pending",
                (d.next_attempt_at <= now) | (d.claimed_by == token),
            )
            .values(claimed_by=token, next_attempt_at=lease, updated_at=now)
            .execution_options(synchronize_session=False)
        )
        if getattr(result, "rowcount", 0) != 1:
            return None
        row = (
            await session.execute(
                select(
                    d.attempts,
                    d.org_id,
                    Webhook.url,
                    Webhook.secret,
                    WebhookEvent.id,
                    WebhookEvent.type,
                    WebhookEvent.body,
                )
                .join(Webhook, Webhook.id == d.webhook_id)
                .join(WebhookEvent, WebhookEvent.id == d.event_id)
                .where(d.id == delivery_id, Webhook.org_id == d.org_id)
            )
        ).one_or_none()
        if row is None:
            return None
        attempts, org_id, url, stored_secret, event_id, event_type, body = row
        secret = secret_box(self.settings).open(stored_secret)
        return Claimed(attempts, org_id, url, secret, event_id, event_type, body.encode())

    async def _attempt(self, claimed: Claimed) -> Outcome:
        try:
            addresses = await check_destination(claimed.url, self.settings, self.resolve)
        except ValidationFailed as exc:
            return Outcome(ok=False, retry=False, error=exc.message)
        assert self._client is not None, "dispatcher not started"
        headers = {
            "Content-Type": "application/json",
            # Signed at each attempt: the timestamp is the attempt's, the body the same bytes.
            SIGNATURE_HEADER: sign(claimed.secret, claimed.body),
            "X-Netra-Event": claimed.event_type,
            "X-Netra-Event-Id": claimed.event_id,
        }
        url = httpx.URL(claimed.url)
        extensions: dict[str, Any] = {}
        if addresses:
            # Connect to the checked address, not to whatever the name resolves to next
            # (DNS rebinding); TLS still verifies the certificate for the host name.
            headers["Host"] = url.netloc.decode("ascii")
            extensions["sni_hostname"] = url.host
            url = url.copy_with(host=addresses[0])
        try:
            async with asyncio.timeout(self.settings.webhook_timeout_s):
                async with self._client.stream(
                    "POST", url, content=claimed.body, headers=headers, extensions=extensions
                ) as response:
                    code = response.status_code
        except (TimeoutError, httpx.TimeoutException):
            return Outcome(ok=False, retry=True, error="timed out")
        except httpx.HTTPError as exc:
            retry = isinstance(exc, httpx.NetworkError | httpx.RemoteProtocolError)
            return Outcome(ok=False, retry=retry, error=f"{type(exc).__name__}: {exc}"[:500])
        if 200 <= code < 300:
            return Outcome(ok=True, retry=False, status_code=code)
        return Outcome(ok=False, retry=code in TRANSIENT_HTTP_STATUSES, status_code=code,
                       error=f"HTTP {code}")  # fmt: skip

    async def _record(
        self, delivery_id: str, token: str, claimed: Claimed, outcome: Outcome
    ) -> float | None:
        """Store the attempt; the delay before the next one, or None when finished."""
        s = self.settings
        attempts = claimed.attempts + 1
        now = utcnow()
        values: dict[str, object] = {
            "attempts": attempts,
            "last_status_code": outcome.status_code,
            "last_error": outcome.error,
            "updated_at": now,
        }
        delay: float | None = None
        if outcome.ok:
            values.update(status="delivered", delivered_at=now, claimed_by=None)
            result = "delivered"
        elif outcome.retry and attempts < s.webhook_max_attempts:
            delay = backoff_s(attempts, s.webhook_retry_base_s, s.webhook_retry_max_s)
            values["next_attempt_at"] = now + timedelta(seconds=delay)
            result = "retry"
        else:
            values.update(status="failed", claimed_by=None)
            result = "failed"

        async def write(session: AsyncSession) -> None:
            await session.execute(
                update(WebhookDelivery)
                .where(WebhookDelivery.id == delivery_id, WebhookDelivery.claimed_by == token)
                .values(**values)
                .execution_options(synchronize_session=False)
            )

        await self.runtime.db.run(write)
        self.runtime.metrics.webhooks.labels(result).inc()
        log.info("webhook attempt", delivery_id=delivery_id, org_id=claimed.org_id,
                 result=result, status_code=outcome.status_code, attempts=attempts)  # fmt: skip
        return delay
