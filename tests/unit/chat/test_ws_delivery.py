"""U5: the delivery rules of one connection, on a fake store: whatever order, loss or repeats
the bus produces, and wherever a resume lands, the client gets each seq once, in order."""

from __future__ import annotations

import json
import random
from datetime import UTC, datetime

from netra.chat.delivery import RunDelivery
from netra.chat.events import StoredEvent
from netra.core.observability import Metrics


class Store:
    def __init__(self, run_id: str, n: int) -> None:
        ts = datetime(2026, 1, 1, tzinfo=UTC)
        types = ["agent_thinking"] * (n - 1) + ["agent_completed"]
        self.events = [
            StoredEvent(
                run_id,
                "t",
                "u",
                i + 1,
                types[i],
                {"agent": "supervisor", "status": "succeeded"},
                ts,
            )
            for i in range(n)
        ]
        self.loads = 0

    async def load(self, run_id: str, after: int, up_to: int | None) -> list[StoredEvent]:
        self.loads += 1
        return [
            e
            for e in self.events
            if e.run_id == run_id and e.seq > after and (up_to is None or e.seq <= up_to)
        ]


def _delivery(store: Store) -> tuple[RunDelivery, list[int]]:
    sent: list[int] = []

    async def send(text: str) -> None:
        sent.append(json.loads(text)["seq"])

    return RunDelivery(send, store.load, Metrics(), clock=lambda: 0.0), sent


async def test_any_bus_order_with_loss_and_repeats_gives_each_seq_once_in_order() -> None:
    rng = random.Random(7)
    for _ in range(200):
        store = Store("r", 12)
        delivery, sent = _delivery(store)
        delivery.track("r", 0)  # a run asked on this connection
        wires = [e.wire() for e in store.events]
        # The bus loses some, repeats some, swaps neighbours; the final event always comes.
        bus = [w for w in wires[:-1] if rng.random() > 0.2]
        bus += rng.sample(bus, k=min(3, len(bus)))
        rng.shuffle(bus)
        for raw in [*bus, wires[-1], *rng.sample(wires, k=3)]:
            await delivery.live(raw)
        assert sent == list(range(1, 13))
        assert not delivery.knows("r")  # forgotten after its final event


async def test_resume_then_live_overlap_sends_nothing_twice() -> None:
    store = Store("r", 10)
    delivery, sent = _delivery(store)
    # This connection opened mid-run: live events of an unknown run (seq > 1) wait for resume.
    await delivery.live(store.events[6].wire())
    assert sent == []
    async with delivery.lock:
        await delivery.replay("r", 3)  # the client saw 1..3 elsewhere
    for e in store.events[5:]:  # live events buffered during the replay, then the rest
        await delivery.live(e.wire())
    assert sent == list(range(4, 11))


async def test_a_run_started_while_connected_is_followed_from_seq_1() -> None:
    store = Store("r", 3)
    delivery, sent = _delivery(store)
    for e in store.events:
        await delivery.live(e.wire())
    assert sent == [1, 2, 3]


async def test_catch_up_sends_what_the_bus_never_delivered() -> None:
    store = Store("r", 4)
    now = [0.0]
    sent: list[int] = []

    async def send(text: str) -> None:
        sent.append(json.loads(text)["seq"])

    delivery = RunDelivery(send, store.load, Metrics(), clock=lambda: now[0], catch_up_s=5)
    await delivery.live(store.events[0].wire())
    await delivery.catch_up(now[0] + 1)  # not quiet long enough: nothing read
    assert sent == [1] and store.loads == 0
    now[0] = 10.0
    await delivery.catch_up(now[0])
    assert sent == [1, 2, 3, 4] and not delivery.knows("r")


async def test_copies_still_on_the_bus_after_a_finished_replay_are_not_resent() -> None:
    store = Store("r", 5)
    delivery, sent = _delivery(store)
    async with delivery.lock:
        await delivery.replay("r", 0)  # resume of a run that has ended meanwhile
    for e in store.events:  # its live copies, buffered while the replay ran
        await delivery.live(e.wire())
    assert sent == [1, 2, 3, 4, 5]
