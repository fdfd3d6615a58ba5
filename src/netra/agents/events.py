"""Emitting one run's events in the order PROTOCOL.md guarantees.

:class:`RunEmitter` keeps the stack of agents that have started and not completed and the tool
calls in flight, so that whatever ends the run (success, failure, cancellation, timeout) closes
them innermost first: every ``tool_executing`` gets its ``tool_completed``, every
``agent_started`` its ``agent_completed``, and the supervisor's comes last.
"""

from __future__ import annotations

import asyncio
import time
import uuid
from collections.abc import Awaitable, Callable
from typing import Any, TypeVar

from netra.agents.contract import EventSink

T = TypeVar("T")


class RunCancelled(Exception):
    """The user cancelled the run; raised between tool calls."""


class ToolFailed(Exception):
    """A tool raised; the event is already emitted with status ``error``."""

    def __init__(self, tool: str, cause: BaseException) -> None:
        super().__init__(f"{tool} failed: {cause}")
        self.tool = tool
        self.cause = cause


class RunEmitter:
    def __init__(self, sink: EventSink, pause_s: float = 0.0) -> None:
        self.sink = sink
        self.pause_s = pause_s  # tests only (NETRA_TEST_STEP_DELAY_S): a sub-agent's pause
        self.agents: list[str] = []  # started, not completed; innermost last
        self.tools: dict[str, tuple[str, str, float]] = {}  # call id -> (agent, tool, t0)
        self.tool_calls: list[dict[str, Any]] = []  # for the run's metadata
        self.closed = False  # the supervisor completed: nothing more may be emitted
        self.ending = False  # the run is being closed: no new tool call may start

    async def started(self, agent: str) -> None:
        await self.sink.emit("agent_started", {"agent": agent})
        self.agents.append(agent)
        if self.pause_s and agent != "supervisor":
            await asyncio.sleep(self.pause_s)  # holds the run mid-step, for fault tests

    async def thinking(self, agent: str, thought: str, progress: float | None = None) -> None:
        payload: dict[str, Any] = {"agent": agent, "thought": thought}
        if progress is not None:
            payload["progress"] = round(min(1.0, max(0.0, progress)), 3)
        await self.sink.emit("agent_thinking", payload)

    async def completed(
        self,
        agent: str,
        status: str = "succeeded",
        *,
        result: dict[str, Any] | None = None,
        error: dict[str, str] | None = None,
    ) -> None:
        payload: dict[str, Any] = {"agent": agent, "status": status}
        if result is not None:
            payload["result"] = result
        if error is not None:
            payload["error"] = error
        await self.sink.emit("agent_completed", payload)
        if agent in self.agents:
            self.agents.remove(agent)
        if agent == "supervisor":
            self.closed = True

    async def check_cancelled(self) -> None:
        if await self.sink.cancelled():
            raise RunCancelled()

    async def tool(
        self,
        agent: str,
        name: str,
        args: dict[str, Any],
        call: Callable[[], Awaitable[T]],
        summarize: Callable[[T], Any] = lambda r: r,
    ) -> T:
        """Run one tool call between its two events; cancellation is checked before it."""
        call_id = await self.tool_begin(agent, name, args)
        try:
            result = await call()
        except Exception as exc:
            await self.tool_end(call_id, "error", {"error": f"{type(exc).__name__}: {exc}"})
            raise ToolFailed(name, exc) from exc
        await self.tool_end(call_id, "ok", summarize(result))
        return result

    async def tool_begin(self, agent: str, name: str, args: dict[str, Any]) -> str:
        """Emit ``tool_executing`` (after a cancellation check); returns the call id."""
        if self.closed or self.ending:
            raise RunCancelled()  # a straggler (engine thread) after the run began to end
        await self.check_cancelled()
        call_id = f"call_{uuid.uuid4().hex[:16]}"
        t0 = time.perf_counter()
        await self.sink.emit(
            "tool_executing", {"agent": agent, "tool": name, "tool_call_id": call_id, "args": args}
        )
        self.tools[call_id] = (agent, name, t0)  # only once emitted: close_all may end it
        return call_id

    async def tool_end(self, call_id: str, status: str, result: Any) -> None:
        if call_id not in self.tools:  # already closed by a cancellation or timeout
            return
        agent, name, t0 = self.tools.pop(call_id)
        duration_ms = int((time.perf_counter() - t0) * 1000)
        await self.sink.emit(
            "tool_completed",
            {
                "agent": agent,
                "tool": name,
                "tool_call_id": call_id,
                "status": status,
                "duration_ms": duration_ms,
                "result": result,
            },
        )
        self.tool_calls.append({"agent": agent, "tool": name, "status": status, "ms": duration_ms})

    async def close_all(self, status: str, error: dict[str, str] | None = None) -> None:
        """End every open tool call and sub-agent (not the supervisor) with ``status``."""
        self.ending = True
        for call_id in list(self.tools):
            await self.tool_end(call_id, "error", {"error": error or {"code": status}})
        for agent in reversed([a for a in self.agents if a != "supervisor"]):
            await self.completed(agent, status, error=error)
