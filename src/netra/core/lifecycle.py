"""Start-up and shutdown of a process's dependencies, and readiness.

Dependencies start in the order given and stop in reverse. A required dependency that cannot
start fails start-up with a message naming it; an optional one leaves the process running with a
degraded readiness.

Readiness: ``unavailable`` (503) while a required, essential dependency is down; ``degraded``
(200) while any other is down, or a check reports :class:`Degraded` (it works on a fallback:
cached keys, the offline writer); ``ok`` otherwise. A dependency that is required at start but
not ``essential`` (Redis: the process serves from the database without it) only degrades.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any

import structlog

log = structlog.get_logger("netra.lifecycle")


class StartupError(RuntimeError):
    pass


class Degraded(Exception):
    """Raised by a readiness check: the dependency is away, the process copes without it."""


@dataclass
class Dependency:
    name: str
    check: Callable[[], Awaitable[Any]] | None = None  # None: not part of readiness
    start: Callable[[], Awaitable[Any]] | None = None
    stop: Callable[[], Awaitable[Any]] | None = None
    required: bool = True
    describe: str = ""  # where it is (URL without credentials), for messages
    essential: bool = True  # down after start-up: unavailable (True) or degraded (False)


@dataclass
class Lifecycle:
    dependencies: list[Dependency] = field(default_factory=list)
    started: list[Dependency] = field(default_factory=list)
    check_timeout_s: float = 3.0

    def add(self, dep: Dependency) -> None:
        self.dependencies.append(dep)

    async def start(self) -> None:
        for dep in self.dependencies:
            try:
                if dep.start is not None:
                    await dep.start()
                if dep.check is not None:
                    await asyncio.wait_for(dep.check(), self.check_timeout_s)
            except Exception as exc:
                if dep.required:
                    await self.stop()
                    where = f" at {dep.describe}" if dep.describe else ""
                    raise StartupError(
                        f"required dependency '{dep.name}'{where} is unavailable: "
                        f"{type(exc).__name__}: {exc}"
                    ) from exc
                log.warning("optional dependency unavailable", dependency=dep.name, error=str(exc))
            self.started.append(dep)

    async def stop(self) -> None:
        while self.started:
            dep = self.started.pop()
            if dep.stop is not None:
                try:
                    await dep.stop()
                except Exception as exc:  # keep stopping the rest
                    log.warning("dependency stop failed", dependency=dep.name, error=str(exc))

    async def readiness(self) -> tuple[bool, dict[str, dict[str, Any]]]:
        """(ready, per-dependency state). Not ready when a required dependency is down."""
        states: dict[str, dict[str, Any]] = {}
        ready = True

        async def probe(dep: Dependency) -> None:
            nonlocal ready
            assert dep.check is not None
            state: dict[str, Any] = {"required": dep.required}
            try:
                await asyncio.wait_for(dep.check(), self.check_timeout_s)
                state["status"] = "up"
            except Degraded as exc:
                state["status"] = "degraded"
                state["error"] = str(exc)[:300]
            except Exception as exc:
                state["status"] = "down"
                state["error"] = f"{type(exc).__name__}: {exc}"[:300]
                if dep.required and dep.essential:
                    ready = False
            if dep.describe:
                state["target"] = dep.describe
            states[dep.name] = state

        probed = [d for d in self.dependencies if d.check is not None]
        with contextlib.suppress(Exception):
            await asyncio.gather(*(probe(d) for d in probed))
        return ready, {d.name: states[d.name] for d in probed if d.name in states}
