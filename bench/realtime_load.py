"""The load client of bench/realtime.py: N sockets, M runs, every frame timed and checked.

One code path for every server; only the dialect differs (how to authenticate, how to ask for
a run, how an event is framed). All sockets are plain ``websockets`` clients in one asyncio
process, so the client's own cost is the same for Netra and its peers.
"""

from __future__ import annotations

import asyncio
import json
import random
import time
import uuid
from collections import defaultdict
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

import websockets
from websockets.asyncio.client import ClientConnection

FINAL = "agent_completed"


@dataclass
class Dialect:
    name: str
    url: str

    async def open(self, token: str) -> ClientConnection:
        raise NotImplementedError

    async def ask(self, ws: ClientConnection, run_id: str, events: int, pause_s: float) -> None:
        """Start a run of ``events`` thinking events, ``pause_s`` between events (Netra: its
        pipeline's pause is set when the server starts; the peers are told in the request)."""
        raise NotImplementedError

    async def keepalive(self, ws: ClientConnection) -> None:
        """What the protocol asks of an idle client (nothing, unless the dialect says)."""

    def decode(self, ws: ClientConnection, message: str | bytes) -> dict[str, Any] | None:
        """A run event or an ack (``{"type": "ack", ...}``) from one message; None: other."""
        raise NotImplementedError


class NetraDialect(Dialect):
    async def open(self, token: str) -> ClientConnection:
        ws = await websockets.connect(self.url, additional_headers={
            "Authorization": f"Bearer {token}"}, compression=None, max_queue=None)  # fmt: skip
        first = json.loads(await ws.recv())
        if first.get("type") != "connection_established":
            raise RuntimeError(f"netra refused the socket: {first}")
        return ws

    async def keepalive(self, ws: ClientConnection) -> None:
        """netra.v1: a frame within the heartbeat timeout (60 s), or the server closes 4408."""
        while True:
            await asyncio.sleep(20)
            await ws.send('{"type":"ping","payload":{}}')

    async def ask(self, ws: ClientConnection, run_id: str, events: int, pause_s: float) -> None:
        await ws.send(json.dumps({"type": "user_message", "id": run_id,
                                  "payload": {"text": f"question {run_id}"}}))  # fmt: skip

    def decode(self, ws: ClientConnection, message: str | bytes) -> dict[str, Any] | None:
        frame: dict[str, Any] = json.loads(message)
        if frame.get("type") == "ack":
            return {"type": "ack", "id": frame.get("id"), "run_id": frame["payload"]["run_id"]}
        return frame if "seq" in frame else None


class WebsocketsDialect(Dialect):
    async def open(self, token: str) -> ClientConnection:
        ws = await websockets.connect(self.url, additional_headers={
            "Authorization": f"Bearer {token}"}, compression=None, max_queue=None)  # fmt: skip
        json.loads(await ws.recv())
        return ws

    async def ask(self, ws: ClientConnection, run_id: str, events: int, pause_s: float) -> None:
        await ws.send(json.dumps({"type": "run", "id": run_id, "payload": {
            "run_id": run_id, "events": events, "pause_s": pause_s}}))  # fmt: skip

    def decode(self, ws: ClientConnection, message: str | bytes) -> dict[str, Any] | None:
        frame: dict[str, Any] = json.loads(message)
        if frame.get("type") == "ack":
            return {"type": "ack", "id": frame.get("id"), "run_id": frame["payload"]["run_id"]}
        return frame if "seq" in frame else None


class SocketioDialect(Dialect):
    """Engine.IO 4 / Socket.IO 5 over a WebSocket: ``0`` open, ``40`` connect, ``42`` event,
    ``43`` ack, ``2``/``3`` ping/pong (the client answers the server's pings)."""

    async def open(self, token: str) -> ClientConnection:
        ws = await websockets.connect(f"{self.url}/socket.io/?EIO=4&transport=websocket",
                                      compression=None, max_queue=None)  # fmt: skip
        opened = await ws.recv()
        if not str(opened).startswith("0"):
            raise RuntimeError(f"engine.io open expected: {opened!r}")
        await ws.send("40" + json.dumps({"token": token}))
        connected = str(await ws.recv())
        if not connected.startswith("40"):
            raise RuntimeError(f"socket.io refused the socket: {connected!r}")
        return ws

    async def ask(self, ws: ClientConnection, run_id: str, events: int, pause_s: float) -> None:
        await ws.send("421" + json.dumps(["run", {"run_id": run_id, "events": events,
                                                  "pause_s": pause_s}]))  # fmt: skip

    def decode(self, ws: ClientConnection, message: str | bytes) -> dict[str, Any] | None:
        text = str(message)
        if text == "2":
            asyncio.get_running_loop().create_task(ws.send("3"))
            return None
        if text.startswith("42"):
            name, data = json.loads(text[2:])
            return data if name == "event" else None  # type: ignore[no-any-return]
        if text.startswith("43"):
            body = json.loads(text[text.index("[") :])
            return {"type": "ack", "id": body[0]["run_id"], "run_id": body[0]["run_id"]}
        return None


@dataclass
class Socket:
    user: int
    ws: ClientConnection
    seqs: dict[str, list[int]] = field(default_factory=lambda: defaultdict(list))
    finals: set[str] = field(default_factory=set)
    acks: dict[str, float] = field(default_factory=dict)  # request id -> when the ack came
    keepalive: asyncio.Task[None] | None = None


@dataclass
class Result:
    name: str
    sockets: int = 0
    connect_s: float = 0.0
    connect_failures: int = 0
    failure_kinds: dict[str, int] = field(default_factory=dict)
    rss_before: int = 0
    rss_idle: int = 0
    deliveries: int = 0
    expected: int = 0
    lost: int = 0
    duplicated: int = 0
    out_of_order: int = 0
    foreign: int = 0  # events of another user's run (isolation broken)
    events_s: float = 0.0
    latencies_ms: list[float] = field(default_factory=list)
    acks_ms: list[float] = field(default_factory=list)
    emitted_s: float = 0.0  # run events per second at the source (their ``ts`` span)

    @property
    def connects_per_s(self) -> float:
        return self.sockets / self.connect_s if self.connect_s else 0.0

    @property
    def kib_per_socket(self) -> float:
        return (self.rss_idle - self.rss_before) / 1024 / max(1, self.sockets)


def pct(values: list[float], p: float) -> float:
    if not values:
        return float("nan")
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(p / 100 * len(ordered)))]


async def connect_all(
    dialect: Dialect, tokens: list[str], per_user: int, concurrency: int,
    kinds: dict[str, int] | None = None,
) -> tuple[list[Socket], float, int]:  # fmt: skip
    """Open ``per_user`` sockets for each token, ``concurrency`` handshakes in flight."""
    gate = asyncio.Semaphore(concurrency)
    failures = 0

    async def one(user: int, token: str) -> Socket | None:
        nonlocal failures
        async with gate:
            try:
                ws = await dialect.open(token)
                return Socket(user, ws, keepalive=asyncio.create_task(dialect.keepalive(ws)))
            except Exception as exc:
                failures += 1
                if kinds is not None:
                    kind = f"{type(exc).__name__}: {str(exc)[:60]}"
                    kinds[kind] = kinds.get(kind, 0) + 1
                return None

    jobs = [one(u, t) for u, t in enumerate(tokens) for _ in range(per_user)]
    t0 = time.perf_counter()
    opened = await asyncio.gather(*jobs)
    return [s for s in opened if s is not None], time.perf_counter() - t0, failures


@dataclass(frozen=True)
class Pacing:
    """How the runs are started and paced (the default: every run at once, no pause).

    ``pause_s``: the pause after each of a run's events, so a run emits ~1/pause_s events/s and
    ``users`` runs together ``users / pause_s`` (:func:`pause_for`). ``ask_over_s``: each user
    asks at a random instant (seeded) within this many seconds, not all at the same one.
    """

    pause_s: float = 0.0
    ask_over_s: float = 0.0
    seed: int = 15


def pause_for(rate: float, users: int) -> float:
    """The pause giving ``rate`` run events/s in all while ``users`` runs overlap."""
    return users / rate


async def run_load(
    dialect: Dialect, sockets: list[Socket], users: int, events: int, result: Result,
    wait_s: float, pacing: Pacing = Pacing(),
) -> None:  # fmt: skip
    """One run per user; every socket of the user receives every event."""
    total = events + 4  # started, thinking x events, tool executing/completed, completed
    done = asyncio.Event()
    remaining = [len(sockets)]
    last_receipt = [0.0]
    span = [float("inf"), 0.0]  # the first and last event's ``ts``

    async def reader(sock: Socket) -> None:
        async for message in sock.ws:
            frame = dialect.decode(sock.ws, message)
            if frame is None:
                continue
            now = time.time()
            if frame["type"] == "ack":
                sock.acks[str(frame["id"])] = time.perf_counter()
                continue
            run_id = frame["run_id"]
            sock.seqs[run_id].append(int(frame["seq"]))
            ts = datetime.fromisoformat(frame["ts"]).timestamp()
            span[0], span[1] = min(span[0], ts), max(span[1], ts)
            result.latencies_ms.append((now - ts) * 1000)
            last_receipt[0] = time.perf_counter()
            if frame["type"] == FINAL and frame["payload"].get("agent") == "supervisor":
                sock.finals.add(run_id)
                if len(sock.finals) == 1:
                    remaining[0] -= 1
                    if remaining[0] == 0:
                        done.set()

    readers = [asyncio.create_task(reader(s)) for s in sockets]
    first_of_user: dict[int, Socket] = {}
    for s in sockets:
        first_of_user.setdefault(s.user, s)
    run_ids = {u: uuid.uuid4().hex for u in first_of_user}
    rng = random.Random(pacing.seed)
    offsets = {u: rng.uniform(0, pacing.ask_over_s) for u in sorted(first_of_user)}
    t0 = time.perf_counter()
    asked: dict[str, float] = {}

    async def ask(u: int, sock: Socket) -> None:
        await asyncio.sleep(t0 + offsets[u] - time.perf_counter())
        asked[run_ids[u]] = time.perf_counter()
        await dialect.ask(sock.ws, run_ids[u], events, pacing.pause_s)

    if pacing.ask_over_s:
        await asyncio.gather(*(ask(u, sock) for u, sock in first_of_user.items()))
    else:  # the burst: one after another from this loop, as fast as it sends
        for u, sock in first_of_user.items():
            asked[run_ids[u]] = time.perf_counter()
            await dialect.ask(sock.ws, run_ids[u], events, pacing.pause_s)
    try:
        await asyncio.wait_for(done.wait(), wait_s)
    except TimeoutError:
        pass
    elapsed = (last_receipt[0] or time.perf_counter()) - t0
    for task in readers:
        task.cancel()
    await asyncio.gather(*readers, return_exceptions=True)
    for sock in first_of_user.values():
        for rid, at in sock.acks.items():
            if rid in asked:
                result.acks_ms.append((at - asked[rid]) * 1000)
    for sock in sockets:
        runs = list(sock.seqs.items())
        result.expected += total
        received = runs[0][1] if runs else []  # the user's one run (a foreign run: a failure)
        result.duplicated += len(received) - len(set(received))
        result.lost += total - len(set(received) & set(range(1, total + 1)))
        result.out_of_order += int(received != sorted(received))
        result.foreign += sum(len(r) for _, r in runs[1:])
        result.deliveries += len(received)
    result.events_s = result.deliveries / elapsed if elapsed > 0 else 0.0
    if span[1] > span[0]:
        result.emitted_s = len(first_of_user) * total / (span[1] - span[0])


async def close_all(sockets: list[Socket]) -> None:
    async def one(s: Socket) -> None:
        if s.keepalive is not None:
            s.keepalive.cancel()
        try:
            await asyncio.wait_for(s.ws.close(), 5)
        except Exception:
            s.ws.transport.abort()

    await asyncio.gather(*(one(s) for s in sockets))
