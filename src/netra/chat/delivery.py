"""What one connection sends of its user's run events: in order, no gap, no duplicate.

The design:
- The connection subscribes to its user's bus channel before it says
  ``connection_established``; live events buffer in that bounded subscription.
- Per run, the last ``seq`` sent on this socket is kept. Under one lock per connection, a live
  event with ``seq <= last`` is skipped (a duplicate); one with ``seq > last + 1`` is preceded by
  the missing events read from the store (events are committed before they are published, so
  the store has them): the client sees 1, 2, 3, ... whatever the bus did.
- ``resume`` replays from the store under the same lock, then records the last replayed ``seq``;
  live events buffered meanwhile are drained afterwards and skipped up to it: no gap, no
  duplicate, even when the run goes on during the switch.
- A live event of a run this connection knows nothing of is forwarded only from ``seq`` 1 (a
  run that started while the connection was open); an older run is delivered by ``resume``.
- Pub/sub is at most once: should the bus lose a run's last events (nothing follows to reveal
  the gap), :meth:`RunDelivery.catch_up` reads the store for runs quiet for ``catch_up_s``.
- After a run's final event the run moves to a bounded set of finished runs: late or repeated
  copies of its events (still buffered on the bus during a replay, say) are skipped, never
  taken for a new run. Memory stays bounded (``MAX_TRACKED_RUNS`` of each).
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable

import structlog

from netra.chat.events import StoredEvent
from netra.chat.frames import live_event
from netra.core.observability import Metrics

log = structlog.get_logger("netra.chat.ws")

REPLAY_PAGE = 500
MAX_TRACKED_RUNS = 1000

Send = Callable[[str], Awaitable[None]]
Load = Callable[[str, int, int | None], Awaitable[list[StoredEvent]]]


class ConnectionGone(Exception):
    """The client went away while we were sending."""


class RunDelivery:
    # One per open socket: slots, not a per-instance dict.
    __slots__ = (
        "_active",
        "_finished",
        "_out_live",
        "_runs",
        "catch_up_s",
        "clock",
        "load",
        "lock",
        "metrics",
        "send",
    )

    def __init__(
        self,
        send: Send,
        load: Load,
        metrics: Metrics,
        clock: Callable[[], float],
        catch_up_s: float = 5.0,
    ) -> None:
        self.send = send
        self.load = load  # (run id, after seq, up to seq) -> stored events, in order
        self.metrics = metrics
        self._out_live = metrics.ws_frames.labels("out", "run_event")  # bound once, not per event
        self.clock = clock
        self.catch_up_s = catch_up_s
        self.lock = asyncio.Lock()  # held by whoever sends run events or changes the state
        self._runs: dict[str, int] = {}  # run id -> last seq sent, for runs not yet over
        self._active: dict[str, float] = {}  # run id -> when it last moved on this socket
        self._finished: dict[str, None] = {}  # runs whose final event was sent (insertion order)

    def knows(self, run_id: str) -> bool:
        return run_id in self._runs

    def has_runs(self) -> bool:
        """Whether a run is followed here (else :meth:`catch_up` has nothing to do)."""
        return bool(self._active)

    def track(self, run_id: str, seq: int) -> None:
        self._finished.pop(run_id, None)  # an explicit replay follows the run again
        self._runs[run_id] = seq
        self._active[run_id] = self.clock()
        while len(self._runs) > MAX_TRACKED_RUNS:
            oldest = next(iter(self._runs))
            del self._runs[oldest]
            self._active.pop(oldest, None)

    def _sent(self, run_id: str, seq: int, final: bool) -> None:
        if final:
            self._runs.pop(run_id, None)  # nothing of the run follows its final event
            self._active.pop(run_id, None)
            self._finished[run_id] = None
            while len(self._finished) > MAX_TRACKED_RUNS:
                del self._finished[next(iter(self._finished))]
        else:
            self.track(run_id, seq)

    async def _send_stored(self, events: list[StoredEvent]) -> None:
        for event in events:
            await self.send(event.wire().decode())
            self.metrics.ws_frames.labels("out", event.type).inc()
            self._sent(event.run_id, event.seq, event.is_final)

    async def replay(
        self, run_id: str, after_seq: int, first: list[StoredEvent] | None = None
    ) -> None:
        """Every stored event with seq > after_seq, in order (the caller holds the lock).
        ``first``: the first page, when the caller has read it already."""
        self.track(run_id, after_seq)
        last = after_seq
        while True:
            page = first if first is not None else await self.load(run_id, last, None)
            first = None
            await self._send_stored(page)
            if len(page) < REPLAY_PAGE:
                return
            last = page[-1].seq

    async def live(self, raw: bytes) -> None:
        """One event from the bus: skipped, repaired from the store, or sent."""
        parsed = live_event(raw)
        if parsed is None:
            return
        head, text = parsed
        async with self.lock:
            last = self._runs.get(head.run_id)
            if last is None:
                if head.seq != 1 or head.run_id in self._finished:
                    return  # a run older than this connection (``resume`` delivers it) or over
                last = 0
            if head.seq <= last:
                return
            while head.seq > last + 1:  # a gap (the bus lost or reordered): the store has it
                missing = await self.load(head.run_id, last, head.seq - 1)
                if not missing:
                    break
                await self._send_stored(missing)
                last = missing[-1].seq
            await self.send(text)
            self._out_live.inc()
            self._sent(head.run_id, head.seq, head.final)

    async def catch_up(self, now: float) -> None:
        """Send stored events of runs that went quiet here (their publish may have been lost)."""
        idle = [r for r, t in self._active.items() if now - t >= self.catch_up_s][:20]
        for run_id in idle:
            try:
                async with self.lock:
                    last = self._runs.get(run_id)
                    if last is None:
                        continue
                    self._active[run_id] = now
                    await self._send_stored(await self.load(run_id, last, None))
            except ConnectionGone:
                raise
            except Exception as exc:  # the store is away: the next round tries again
                log.warning("catch-up failed", run_id=run_id, error=str(exc))
                return
