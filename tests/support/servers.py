"""Real server processes for e2e tests: ``python -m netra <command>`` on a free port."""

from __future__ import annotations

import os
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass
from pathlib import Path

import httpx

from support.services import free_port


@dataclass
class ServerProcess:
    command: str
    port: int
    proc: subprocess.Popen[bytes]
    log_path: Path

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def ws_url(self) -> str:
        return f"ws://127.0.0.1:{self.port}/ws"

    def log(self) -> str:
        return self.log_path.read_text(errors="replace")

    def kill(self) -> None:
        """SIGKILL: a crash, no graceful shutdown."""
        self.proc.kill()
        self.proc.wait(10)

    def stop(self) -> None:
        if self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(15)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(5)


def start_server(
    command: str, env: dict[str, str], *, port: int | None = None, ready_timeout_s: float = 90
) -> ServerProcess:
    port = port or free_port()
    log_path = Path(tempfile.mkstemp(prefix=f"netra-{command}-", suffix=".log")[1])
    full_env = {k: v for k, v in os.environ.items() if not k.startswith("NETRA_")}
    full_env.update(env)
    full_env.setdefault("NETRA_ENV", "test")
    with open(log_path, "wb") as log:
        proc = subprocess.Popen(
            [sys.executable, "-m", "netra", command, "--host", "127.0.0.1", "--port", str(port)],
            env=full_env,
            stdout=log,
            stderr=subprocess.STDOUT,
        )
    server = ServerProcess(command, port, proc, log_path)
    deadline = time.monotonic() + ready_timeout_s
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"{command} exited with {proc.returncode}:\n{server.log()[-4000:]}")
        try:
            if httpx.get(f"{server.url}/health/ready", timeout=1).status_code == 200:
                return server
        except httpx.HTTPError:
            pass
        time.sleep(0.1)
    server.stop()
    raise RuntimeError(f"{command} not ready in {ready_timeout_s}s:\n{server.log()[-4000:]}")


@contextmanager
def server(command: str, env: dict[str, str], **kwargs: object) -> Iterator[ServerProcess]:
    proc = start_server(command, env, **kwargs)  # type: ignore[arg-type]
    try:
        yield proc
    finally:
        proc.stop()


@contextmanager
def processes(
    env: dict[str, str], *commands: str, ready_timeout_s: float = 90
) -> Iterator[list[ServerProcess]]:
    """Start the processes in parallel (start-up is the slow part); stop them all after."""
    with ExitStack() as stack, ThreadPoolExecutor(len(commands)) as pool:
        futures = [
            pool.submit(start_server, c, env, ready_timeout_s=ready_timeout_s) for c in commands
        ]
        procs: list[ServerProcess] = []
        try:
            for f in futures:
                procs.append(f.result())
        finally:
            for f in futures:
                if f.done() and f.exception() is None:
                    stack.callback(f.result().stop)
        yield procs
