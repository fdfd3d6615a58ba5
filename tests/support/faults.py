"""Fault tests: a Redis server the test owns (killed, restarted, frozen), demo usage, and the
checks every faulted run must pass (every event once, in order, one answer).

The processes run the real agent pipeline; ``NETRA_TEST_STEP_DELAY_S`` (refused outside
``NETRA_ENV=test``) pauses each sub-agent after its ``agent_started`` so a fault lands mid-run
deterministically, without racing the run.
"""

from __future__ import annotations

import asyncio
import os
import secrets
import shutil
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest

from support.accounts import bearer, signup_sync
from support.realtime import Client, is_final
from support.servers import ServerProcess, processes
from support.services import free_port, fresh_postgres_database

QUESTION = "where is my money going and how do I cut it?"
AGENTS = {"supervisor", "triage", "data", "optimizer", "actions", "reporting"}
STEP_DELAY_S = "1.5"  # each sub-agent pauses this long: the run lasts about 8 s


class RedisProcess:
    """``redis-server`` on a spare port, owned by one test: kill, restart (same port), freeze."""

    def __init__(self) -> None:
        binary = shutil.which("redis-server") or "/usr/bin/redis-server"
        if not Path(binary).exists():
            pytest.exit("redis-server is missing: apt-get install -y redis-server", returncode=3)
        self.binary = binary
        self.port = free_port()
        self.proc: subprocess.Popen[bytes] | None = None
        self.start()

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self.port}/0"

    def start(self) -> None:
        self.proc = subprocess.Popen(
            [self.binary, "--port", str(self.port), "--bind", "127.0.0.1", "--save", "",
             "--appendonly", "no"],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )  # fmt: skip
        deadline = time.monotonic() + 20
        while not self.answers():
            assert time.monotonic() < deadline, "redis-server did not start"
            time.sleep(0.05)

    def answers(self) -> bool:
        import redis

        client = redis.Redis(host="127.0.0.1", port=self.port, socket_timeout=0.5)
        try:
            return bool(client.ping())
        except redis.RedisError:
            return False
        finally:
            client.close()

    def kill(self) -> None:
        assert self.proc is not None
        self.proc.kill()
        self.proc.wait(10)

    def freeze(self) -> None:
        assert self.proc is not None
        os.kill(self.proc.pid, signal.SIGSTOP)

    def thaw(self) -> None:
        assert self.proc is not None
        os.kill(self.proc.pid, signal.SIGCONT)

    def stop(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            os.kill(self.proc.pid, signal.SIGCONT)
            self.proc.kill()
            self.proc.wait(10)


@contextmanager
def redis_process() -> Iterator[RedisProcess]:
    server = RedisProcess()
    try:
        yield server
    finally:
        server.stop()


def scaled_env(data_dir: Path, pg_url: str, redis_url: str, **extra: str) -> dict[str, str]:
    """Auth service, API replicas and workers on one PostgreSQL and Redis: the real agents."""
    env = {
        "NETRA_DATA_DIR": str(data_dir),
        "NETRA_DATABASE_URL": pg_url,
        "NETRA_REDIS_URL": redis_url,
        "NETRA_REDIS_PREFIX": "netra-fault:",
        "NETRA_JWT_ALGORITHM": "HS256",  # the auth service signs, the replicas verify
        "NETRA_JWT_SECRET": secrets.token_urlsafe(48),
        "NETRA_TEST_STEP_DELAY_S": STEP_DELAY_S,
        "NETRA_RUN_HEARTBEAT_S": "0.5",
        "NETRA_RUN_STALE_AFTER_S": "2",
    }
    env.update(extra)
    return env


@dataclass
class ScaledStack:
    """A scaled deployment of a fault test's own: its env (to start more processes), its Redis
    (to kill or freeze), the processes after the auth service, and a user with usage stored."""

    env: dict[str, str]
    redis: RedisProcess
    servers: list[ServerProcess]
    token: str


@contextmanager
def scaled_stack(tmp_path: Path, *commands: str, **extra: str) -> Iterator[ScaledStack]:
    """PostgreSQL and Redis of the test's own, ``auth-service`` plus ``commands`` (the first an
    API) as real processes, a signed-up user, and the demo usage uploaded through that API."""
    usage = demo_usage(tmp_path / "usage.csv")
    with fresh_postgres_database() as pg_url, redis_process() as redis:
        env = scaled_env(tmp_path, pg_url, redis.url, **extra)
        with processes(env, "auth-service", *commands) as (auth, *servers):
            token = signup_sync(auth.url)["access_token"]
            upload(servers[0].url, token, usage)
            yield ScaledStack(env, redis, servers, token)


def demo_usage(path: Path, records: int = 2000, seed: int = 11) -> Path:
    """A demo workload written by the real ``netra demo-data`` command."""
    subprocess.run(
        [sys.executable, "-m", "netra", "demo-data", "--records", str(records), "--seed",
         str(seed), "--out", str(path)],
        check=True, capture_output=True, timeout=120,
    )  # fmt: skip
    return path


def upload(api_url: str, token: str, path: Path) -> None:
    with path.open("rb") as handle:
        response = httpx.post(
            f"{api_url}/api/v1/usage/upload",
            files={"file": ("usage.csv", handle, "text/csv")},
            headers=bearer(token),
            timeout=60,
        )
    assert response.status_code == 200, response.text


async def wait_for_agent(client: Client, run_id: str, agent: str, wait_s: float = 30) -> None:
    """Receive until ``agent`` has started in the run (the step delay then holds it there)."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + wait_s
    while True:
        frame = await client.recv(max(0.1, deadline - loop.time()))
        if frame.get("run_id") != run_id:
            continue
        assert not is_final(frame), f"the run ended before {agent} started: {frame}"
        if frame["type"] == "agent_started" and frame["payload"]["agent"] == agent:
            return


def received(client_frames: list[dict[str, Any]], run_id: str) -> list[dict[str, Any]]:
    return [f for f in client_frames if f.get("run_id") == run_id and "seq" in f]


def as_client_keeps_them(frames: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """The run as a protocol client keeps it: a ``resume`` replays from the ``after_seq`` the
    client names, so frames still in flight when it asked arrive twice; the client drops a seq
    it holds. Such copies must be identical (the same stored event), never a different one."""
    kept: dict[int, dict[str, Any]] = {}
    for frame in frames:
        first = kept.setdefault(frame["seq"], frame)
        assert first == frame, f"two different events with seq {frame['seq']}: {first} {frame}"
    return [kept[seq] for seq in sorted(kept)]


def check_complete_run(events: list[dict[str, Any]]) -> None:
    """Every event once, in order (seq 1..n), the ordering guarantees, one succeeded answer
    by every agent of the plan."""
    assert [e["seq"] for e in events] == list(range(1, len(events) + 1)), [
        (e["seq"], e["type"], e["payload"].get("agent")) for e in events
    ]
    assert events[0]["type"] == "agent_started" and events[0]["payload"]["agent"] == "supervisor"
    assert is_final(events[-1]) and sum(is_final(e) for e in events) == 1
    started = [e["payload"]["agent"] for e in events if e["type"] == "agent_started"]
    completed = [e["payload"]["agent"] for e in events if e["type"] == "agent_completed"]
    assert sorted(started) == sorted(completed) == sorted(AGENTS), (started, completed)
    calls = [e["payload"]["tool_call_id"] for e in events if e["type"] == "tool_executing"]
    done = [e["payload"]["tool_call_id"] for e in events if e["type"] == "tool_completed"]
    assert sorted(calls) == sorted(done) and len(set(done)) == len(done)
    final = events[-1]["payload"]
    assert final["status"] == "succeeded", final
    assert "$" in final["result"]["text"] and final["result"].get("report_id")


def stored_events(api_url: str, token: str, run_id: str) -> dict[str, Any]:
    response = httpx.get(f"{api_url}/api/v1/runs/{run_id}/events", headers=bearer(token))
    assert response.status_code == 200, response.text
    return dict(response.json())


def assistant_answers(api_url: str, token: str, thread_id: str) -> list[dict[str, Any]]:
    response = httpx.get(f"{api_url}/api/v1/threads/{thread_id}/messages", headers=bearer(token))
    assert response.status_code == 200, response.text
    body = response.json()
    messages = body["messages"] if isinstance(body, dict) else body
    return [m for m in messages if m["role"] == "assistant"]
