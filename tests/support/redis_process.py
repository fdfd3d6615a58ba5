"""A Redis server of a test's own (a process the test may kill), and waiting for it."""

from __future__ import annotations

import asyncio
import shutil
import subprocess
from collections.abc import Iterator
from pathlib import Path

import redis.asyncio as aioredis

from support.services import free_port


def run_own_redis(tmp_path: Path) -> Iterator[tuple[str, subprocess.Popen[bytes]]]:
    """A Redis of a test's own, so the test can stop it for real (the ``own_redis`` fixture of
    tests/integration/conftest.py)."""
    binary = shutil.which("redis-server")
    assert binary, "redis-server is required: apt-get install -y redis-server"
    port = free_port()
    proc = subprocess.Popen(
        [binary, "--port", str(port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no",
         "--dir", str(tmp_path)],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )  # fmt: skip
    yield f"redis://127.0.0.1:{port}/0", proc
    if proc.poll() is None:
        proc.terminate()
        proc.wait(10)


async def wait_for_redis(url: str) -> None:
    client = aioredis.from_url(url)
    try:
        for _ in range(100):
            try:
                await client.ping()
                return
            except Exception:
                await asyncio.sleep(0.05)
        raise AssertionError("redis did not start")
    finally:
        await client.aclose()
