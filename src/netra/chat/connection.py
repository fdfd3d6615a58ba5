"""One netra.v1 connection: its reader, its delivery of run events and its periodic checks.

The reader parses and answers client frames; it runs in the socket's own (ASGI) task, and a
close request interrupts it by cancelling that task. The user's live run events go to
:class:`~netra.chat.delivery.RunDelivery` (ordering, no gap, no duplicate, resume) from a short
drain task started when the bus hands this socket a message and none is running: an idle
socket holds no task of its own. The hub's timer calls :meth:`Connection.check` on every socket
each tick (no task per socket): it enforces the heartbeat timeout, token expiry and revocation,
the slow-reader bound (1013), and drives the delivery's catch-up; what needs I/O runs in a
short task only when it is due.
The connection subscribes to its user's bus channel *before* it sends
``connection_established``, so nothing published afterwards can be missed.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import time
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

import structlog
from sqlalchemy.exc import IntegrityError, SQLAlchemyError
from starlette.websockets import WebSocket

from netra.auth.deps import VERIFIER, get_verifier
from netra.chat import service
from netra.chat.cancels import announce_cancel
from netra.chat.delivery import REPLAY_PAGE, ConnectionGone, RunDelivery
from netra.chat.event_writer import publish_events
from netra.chat.events import StoredEvent, events_after, user_channel
from netra.chat.frames import (
    PROTOCOL,
    CancelRunPayload,
    ClientFrame,
    FrameError,
    ResumePayload,
    UserMessagePayload,
    error_frame,
    parse_client_frame,
    server_frame,
)
from netra.chat.limits import TokenBucket
from netra.chat.models import RUN_FINAL
from netra.core.bus import Subscription
from netra.core.context import UserContext
from netra.core.db import database_unavailable, new_id
from netra.core.db_errors import is_data_error
from netra.core.errors import DependencyUnavailable, Forbidden, NetraError, Unauthenticated
from netra.core.ratelimit import REQUEST_LIMITER, retry_seconds
from netra.core.runtime import Runtime
from netra.tiers import limits_for

if TYPE_CHECKING:
    from netra.chat.hub import ConnectionHub

log = structlog.get_logger("netra.chat.ws")

# What a dependency may raise. Only an outage closes with 1013 (come back later); a value the
# database refuses is answered with an ``error`` frame.
UNAVAILABLE = (SQLAlchemyError, OSError, TimeoutError, UnicodeError)
# A revocation heard this soon after the handshake may have reached the hub before this socket
# was registered there: the periodic check re-checks the token instead (covers the bus's delay).
YOUNG_S = 3.0

# The permission each client frame needs (auth/roles.py): a viewer watches, never runs.
FRAME_PERMISSIONS = {"user_message": "chat:use", "cancel_run": "chat:use", "resume": "chat:read"}


class Connection:
    # One per open socket: slots, not a per-instance dict (thousands of sockets per replica).
    __slots__ = (
        "_chore",
        "_drain",
        "_gone",
        "_interrupted",
        "_next_catch_up",
        "_next_slot",
        "_next_verify",
        "_send_lock",
        "_serving",
        "_stopping",
        "_sub",
        "_token",
        "_young_until",
        "bucket",
        "catch_up_s",
        "clock",
        "close_code",
        "close_reason",
        "ctx",
        "delivery",
        "hub",
        "last_inbound",
        "runtime",
        "settings",
        "slot_key",
        "verified_generation",
        "ws",
    )

    def __init__(
        self,
        ws: WebSocket,
        ctx: UserContext,
        token: str,
        runtime: Runtime,
        hub: ConnectionHub,
        slot_key: str | None = None,
        *,
        catch_up_s: float = 5.0,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.ws = ws
        self.ctx = ctx  # immutable: user, org, tier, connection id
        self._token = token
        self.runtime = runtime
        self.settings = runtime.settings
        self.hub = hub
        self.slot_key = slot_key
        self.catch_up_s = catch_up_s
        self.clock = clock
        self.last_inbound = clock()
        self.bucket = TokenBucket(
            self.settings.ws_frame_rate_per_s, self.settings.ws_frame_burst, clock
        )
        self.delivery = RunDelivery(self.send, self._load, runtime.metrics, clock, catch_up_s)
        self._send_lock = asyncio.Lock()
        # The task serving the socket while it reads; a close request from elsewhere cancels it.
        self._serving: asyncio.Task[Any] | None = None
        self._stopping = False  # the reader is to stop (asked from elsewhere, or by itself)
        self._interrupted = False  # ... and this connection cancelled ``_serving`` for it
        self._drain: asyncio.Task[None] | None = None  # live events being sent, if any
        self.close_code: int | None = None
        self.close_reason = ""
        self._gone = False
        # The revocation generation (auth/revocation_cache) the token was checked in: a
        # revocation heard between that check and the hub knowing this socket is re-checked.
        self.verified_generation: int | None = None
        # The periodic checks' schedule (see :meth:`check`), set when serving begins.
        self._sub: Subscription | None = None
        self._chore: asyncio.Task[None] | None = None  # the due checks needing I/O, if running
        now = clock()
        self._next_verify = self._next_slot = self._next_catch_up = self._young_until = now

    # ---- life -------------------------------------------------------------------------

    def request_close(self, code: int, reason: str = "") -> None:
        """Ask the connection to close with ``code`` (any task, e.g. a revocation)."""
        if self.close_code is None:
            self.close_code, self.close_reason = code, reason
        self._end()

    def _end(self) -> None:
        task = self._serving
        if task is None or self._stopping:
            return  # not reading yet (``_run`` checks ``close_code`` first), or already stopping
        self._stopping = True
        if task is not asyncio.current_task():  # the reader itself stops at its next frame
            self._interrupted = True
            task.cancel()

    async def serve(self) -> None:
        release_handshake(self.ws)
        metrics = self.runtime.metrics
        channel = user_channel(self.ctx.user_id)
        async with self.runtime.bus.subscribe(channel, self.settings.ws_send_queue_max) as sub:
            self.hub.register(self)
            metrics.ws_connections.inc()
            try:
                await self._run(sub)
            except ConnectionGone:
                pass
            finally:
                metrics.ws_connections.dec()
                self.hub.unregister(self)

    async def _run(self, sub: Subscription) -> None:
        await self.send(
            server_frame(
                "connection_established",
                {
                    "connection_id": self.ctx.connection_id,
                    "user_id": self.ctx.user_id,
                    "org_id": self.ctx.org_id,
                    "tier": self.ctx.tier,
                    "protocol": PROTOCOL,
                    "heartbeat_interval_s": self.settings.ws_heartbeat_interval_s,
                    "max_message_bytes": self.settings.ws_max_message_bytes,
                },
            )
        )
        now = self.clock()
        self._next_verify = now + self._verify_every()
        self._next_slot = now + self.hub.slots.ttl_s / 3
        self._next_catch_up = now + self.catch_up_s
        self._young_until = now + YOUNG_S
        task = self._serving = asyncio.current_task()
        assert task is not None
        self._sub = sub  # from now on the hub's timer checks this socket
        sub.listen(self._on_bus)
        try:
            self._on_bus()  # whatever was published since the subscription began
            if self.close_code is None:  # else requested before serving began
                await self._reader()
        except asyncio.CancelledError:
            # Ours (a close request) is absorbed; one from outside (shutdown) goes on.
            if not self._interrupted or task.uncancel() > 0:
                raise
        except ConnectionGone:
            pass
        except Exception as exc:
            log.error("websocket task failed", task="ws-reader", error=repr(exc))
            self.request_close(1011, "unexpected server fault")
        finally:
            self._stopping = True  # no cancel from here on: the close below must not be cut
            sub.listen(None)
            tasks = [t for t in (self._drain, self._chore) if t is not None]
            for t in tasks:
                t.cancel()
            await asyncio.gather(*tasks, return_exceptions=True)
        if self.close_code is not None and not self._gone:
            await self.close(self.close_code, self.close_reason)

    async def close(self, code: int, reason: str = "") -> None:
        self.runtime.metrics.ws_closes.labels(str(code)).inc()
        # A reader that stopped reading may never let the close frame out: do not wait forever.
        with contextlib.suppress(Exception):
            await asyncio.wait_for(self.ws.close(code, reason[:120]), 2.0)
        self._gone = True

    async def send(self, text: str) -> None:
        if self._gone:
            raise ConnectionGone()
        try:
            async with self._send_lock:
                await self.ws.send_text(text)
        except Exception as exc:  # disconnect mid-send (starlette / uvicorn / OS errors)
            self._gone = True
            raise ConnectionGone() from exc

    # ---- inbound ----------------------------------------------------------------------

    async def _reader(self) -> None:
        max_bytes = self.settings.ws_max_message_bytes
        while not self._stopping:
            message = await self.ws.receive()
            if message["type"] == "websocket.disconnect":
                self._gone = True
                return
            self.last_inbound = self.clock()
            text = message.get("text")
            if text is not None and (len(text) > max_bytes or len(text.encode()) > max_bytes):
                self.request_close(1009, "frame larger than max_message_bytes")
                return
            # Every frame, binary ones too, spends from the bucket before any work is done.
            wait = self.bucket.take()
            if wait > 0:
                retry = TokenBucket.retry_after_s(wait)
                frame_id = _frame_id(text) if text is not None else None
                await self.send(
                    error_frame("rate_limited", "too many frames", frame_id, retry_after_s=retry)
                )
                continue
            if not await self._within_tier_rate(text):
                continue
            if text is None:
                await self.send(error_frame("invalid_frame", "frames are JSON text messages"))
                continue
            frame = parse_client_frame(text)
            self.runtime.metrics.ws_frames.labels(
                "in", frame.type if isinstance(frame, ClientFrame) else "invalid"
            ).inc()
            if isinstance(frame, FrameError):
                await self.send(error_frame(frame.code, frame.message, frame.id))
                continue
            await self._dispatch(frame)

    async def _within_tier_rate(self, text: str | None) -> bool:
        """Each frame counts against the organisation's tier rate, like a REST request."""
        limiter = self.runtime.services[REQUEST_LIMITER]
        _, decision = await limiter.check(self.ctx.org_id, self.ctx.tier)
        if decision.allowed:
            return True
        retry = retry_seconds(decision.retry_after_s)
        await self.send(
            error_frame(
                "rate_limited",
                f"rate limit of the {self.ctx.tier} tier reached: retry in {retry} s",
                _frame_id(text) if text is not None else None,
                retry_after_s=retry,
            )
        )
        return False

    async def _dispatch(self, frame: ClientFrame) -> None:
        try:
            needed = FRAME_PERMISSIONS.get(frame.type)
            if needed is not None and not self.ctx.can(needed):
                raise Forbidden(f"missing permission '{needed}'")
            if frame.type == "ping":
                await self.send(server_frame("pong", {}, frame.id))
            elif frame.type == "user_message":
                assert isinstance(frame.payload, UserMessagePayload)
                await self._user_message(frame.id, frame.payload)
            elif frame.type == "resume":
                assert isinstance(frame.payload, ResumePayload)
                await self._resume(frame.id, frame.payload)
            elif frame.type == "cancel_run":
                assert isinstance(frame.payload, CancelRunPayload)
                await self._cancel(frame.payload)
        except NetraError as exc:
            if isinstance(exc, DependencyUnavailable):
                self.request_close(1013, "a dependency is unavailable")
                return
            extra: dict[str, Any] = {}
            retry = getattr(exc, "retry_after_s", None)
            if retry is not None:
                extra["retry_after_s"] = retry
            await self.send(error_frame(exc.code, exc.message, frame.id, **extra))
        except UNAVAILABLE as exc:
            if is_data_error(exc):
                # The client's data (a value the database refuses), not an outage: the
                # connection stays open and the frame is answered.
                log.info("frame refused by the database", type=frame.type, error=repr(exc)[:300])
                await self.send(
                    error_frame("validation_error", "a value cannot be stored", frame.id)
                )
                return
            if isinstance(exc, SQLAlchemyError) and not database_unavailable(exc):
                raise  # a fault of this code, not of the database: 1011
            # The database went away (after the unit of work's retries).
            log.warning("dependency failed during a frame", type=frame.type, error=repr(exc))
            self.request_close(1013, "a dependency is unavailable")

    async def _user_message(self, frame_id: str | None, payload: UserMessagePayload) -> None:
        verifier = get_verifier(self.runtime)
        ctx = self.ctx.derive(request_id=new_id())
        jobs: list[dict[str, Any]] = []

        async def later(job: dict[str, Any]) -> None:
            jobs.append(job)  # enqueued once the ack is sent: the run is committed by then

        async def submit(session: Any) -> service.Ack:
            # A run is started only by a token still valid now, asked of the database in the
            # run's own transaction: a logout elsewhere (its revocation message possibly still
            # on its way) leaves no window to start one.
            await verifier.verify_in(session, self._token)
            return await service.submit_user_message(
                session, ctx, text=payload.text, thread_id=payload.thread_id,
                frame_id=frame_id, limits=limits_for(self.settings, ctx.tier), enqueue=later,
            )  # fmt: skip

        try:
            async with self.delivery.lock:
                try:
                    ack = await self.runtime.db.run(submit)
                except Unauthenticated:
                    self.request_close(4401, "token revoked")
                    return
                except IntegrityError:
                    if frame_id is None:
                        raise
                    # The same id arrived twice at once: the other one won; answer its ack.
                    again = await self.runtime.db.run(
                        lambda s: service.previous_ack(s, ctx, frame_id)
                    )
                    if again is None:
                        raise
                    ack = again
                await self.send(server_frame("ack", ack.payload(), frame_id))
                if not ack.duplicate:
                    self.delivery.track(ack.run_id, 0)
                elif not self.delivery.knows(ack.run_id):
                    # A resend after a lost ack: the client knows nothing of the run yet.
                    await self.delivery.replay(ack.run_id, 0)
        finally:  # the run is committed whatever became of the socket
            for job in jobs:
                try:
                    await self.runtime.queue.enqueue(job)
                except Exception as exc:  # the worker's sweep re-enqueues runs left queued
                    log.warning("enqueue failed", run_id=job.get("run_id"), error=str(exc))

    async def _resume(self, frame_id: str | None, payload: ResumePayload) -> None:
        ctx = self.ctx
        async with self.delivery.lock:
            # The owner check and the first page of the replay in one statement, outside a
            # transaction (a reconnect storm resumes thousands at once).
            first = await self.runtime.db.read(
                lambda s: service.resume_page(s, ctx, payload.run_id, payload.after_seq,
                                              REPLAY_PAGE)
            )  # fmt: skip
            await self.delivery.replay(payload.run_id, payload.after_seq, first)

    async def _cancel(self, payload: CancelRunPayload) -> None:
        ctx = self.ctx
        bus = self.runtime.bus

        async def publish(events: list[StoredEvent]) -> None:
            await publish_events(bus, events)

        run = await self.runtime.db.run(
            lambda s: service.cancel_run(s, ctx, payload.run_id, publish)
        )
        if run.status not in RUN_FINAL:  # a worker holds it (or will): tell it now
            await announce_cancel(bus, run.id)

    # ---- outbound run events --------------------------------------------------------------

    async def _load(self, run_id: str, after: int, up_to: int | None) -> list[StoredEvent]:
        ctx = self.ctx
        return await self.runtime.db.run(
            lambda s: events_after(
                s,
                run_id=run_id,
                org_id=ctx.org_id,
                after_seq=after,
                up_to=up_to,
                limit=REPLAY_PAGE,
            )
        )

    def _on_bus(self) -> None:
        """The subscription changed (the bus's dispatch calls this): drain it in a short task
        unless one runs; close at once on overflow (1013) or when the bus went away."""
        sub = self._sub
        if sub is None:
            return
        if sub.overflowed:
            self.request_close(1013, "client too slow")
        elif sub.closed:
            self._end()
        elif self._drain is None and sub.pending():
            self._drain = asyncio.create_task(self._drain_bus(sub), name="ws-drain")

    async def _drain_bus(self, sub: Subscription) -> None:
        try:
            while (raw := sub.get_nowait()) is not None:
                await self.delivery.live(raw)
        except ConnectionGone:
            self._end()
        except UNAVAILABLE as exc:  # the store, needed to fill a gap, is away
            log.warning("delivery failed", error=repr(exc))
            self.request_close(1013, "a dependency is unavailable")
        except Exception as exc:
            log.error("websocket task failed", task="ws-drain", error=repr(exc))
            self.request_close(1011, "unexpected server fault")
        finally:
            self._drain = None  # an idle socket keeps no finished task

    # ---- periodic checks (the hub's timer) ------------------------------------------------

    def _verify_every(self) -> float:
        return max(1.0, float(self.settings.ws_heartbeat_interval_s))

    def check(self) -> None:
        """One tick of the hub's timer: the cheap checks at once, the due ones needing I/O
        (revocation, catch-up) in a short task, one at a time."""
        sub = self._sub
        if sub is None or self.close_code is not None or self._gone:
            return  # not serving yet, or closing
        now = self.clock()
        if sub.overflowed:
            self.request_close(1013, "client too slow")
        elif now - self.last_inbound > self.settings.ws_heartbeat_timeout_s:
            self.request_close(4408, "no frame within the heartbeat timeout")
        elif self.ctx.token_exp is not None and time.time() >= self.ctx.token_exp:
            self.request_close(4401, "token expired")
        elif (self._chore is None or self._chore.done()) and self._checks_due(now):
            self._chore = asyncio.create_task(self._due_checks(now), name="ws-checks")

    def lease_due(self, now: float) -> tuple[str, str] | None:
        """The connection slot's lease when its renewal is due (the hub renews them together)."""
        if self.slot_key is None or now < self._next_slot or self._sub is None:
            return None
        self._next_slot = now + self.hub.slots.ttl_s / 3
        return self.slot_key, str(self.ctx.connection_id)

    def _revocation_cache(self) -> Any:
        verifier = self.runtime.services.get(VERIFIER)
        return getattr(verifier, "cache", None)  # a verifier without a copy (tests' fakes too)

    def _raced(self, now: float) -> bool:
        """A revocation was heard while this young socket may not have been in the hub yet."""
        cache = self._revocation_cache()
        return (
            cache is not None
            and now < self._young_until
            and self.verified_generation is not None
            and cache.generation != self.verified_generation
        )

    def _checks_due(self, now: float) -> bool:
        return (
            now >= self._next_verify
            or self._raced(now)
            or (now >= self._next_catch_up and self.delivery.has_runs())
        )

    async def _due_checks(self, now: float) -> None:
        try:
            await self._run_due_checks(now)
        except ConnectionGone:
            self._end()
        except Exception as exc:
            log.error("websocket task failed", task="ws-checks", error=repr(exc))
            self.request_close(1011, "unexpected server fault")
        finally:
            self._chore = None  # an idle socket keeps no finished task

    async def _run_due_checks(self, now: float) -> None:
        if now >= self._next_verify or self._raced(now):
            self._next_verify = now + self._verify_every()
            cache = self._revocation_cache()
            if cache is not None:
                self.verified_generation = cache.generation
            # The revocation denylist is the source of truth should a bus message be lost.
            try:
                await get_verifier(self.runtime).verify(self._token, cached=True)
            except Unauthenticated:
                self.request_close(4401, "token revoked")
                return
            except DependencyUnavailable:
                self.request_close(1013, "revocation check unavailable")
                return
        if now >= self._next_catch_up:
            self._next_catch_up = now + self.catch_up_s
            await self.delivery.catch_up(now)


def release_handshake(ws: WebSocket) -> None:
    """Drop what the server keeps of an accepted handshake for the socket's whole life (about
    4 KiB each, tracemalloc): the request headers in the scope, read by the ``/ws`` endpoint
    before the accept and by nothing after, and uvicorn's handshake request and response
    (websockets-sansio), unused once the 101 is sent. Another server's objects are left alone."""
    ws.scope["headers"] = []
    vars(ws).pop("_headers", None)  # Starlette's parsed copy, made when the endpoint read them
    server = getattr(getattr(ws, "_receive", None), "__self__", None)
    if getattr(server, "handshake_complete", False) is True:
        for name in ("request", "response"):
            if getattr(server, name, None) is not None:
                setattr(server, name, None)


def _frame_id(text: str) -> str | None:
    try:
        data = json.loads(text)
    except ValueError:
        return None
    value = data.get("id") if isinstance(data, dict) else None
    return value if isinstance(value, str) else None
