"""A placeholder agent pipeline: the five documented events in order, and an echo answer.

Used when no agent pipeline is configured (or ``NETRA_PLACEHOLDER_PIPELINE=true``). It keeps
the contract of ``netra.agents.contract``: it emits every event itself, the supervisor first
and last, and the final result names the assistant message it stored.
"""

from __future__ import annotations

import asyncio
import time

from netra.agents.contract import AgentDeps, EventSink, RunRequest, RunResult
from netra.core.db import new_id

AGENT = "supervisor"


class PlaceholderPipeline:
    def __init__(self, step_delay_s: float = 0.0, thinking_events: int = 1) -> None:
        self.step_delay_s = max(0.0, step_delay_s)
        self.thinking_events = max(1, thinking_events)  # >1: a load generator for benchmarks

    async def _pause(self) -> None:
        if self.step_delay_s:
            await asyncio.sleep(self.step_delay_s)

    async def _cancel(self, sink: EventSink) -> RunResult:
        await sink.emit("agent_completed", {"agent": AGENT, "status": "cancelled"})
        return RunResult("cancelled")

    async def __call__(self, request: RunRequest, sink: EventSink, deps: AgentDeps) -> RunResult:
        await sink.emit("agent_started", {"agent": AGENT})
        await self._pause()
        for i in range(self.thinking_events):
            progress = round(0.3 * (i + 1) / self.thinking_events, 4)
            await sink.emit(
                "agent_thinking",
                {"agent": AGENT, "thought": "Reading the question", "progress": progress},
            )
            await self._pause()
        if await sink.cancelled():
            return await self._cancel(sink)
        call_id = new_id()
        started = time.perf_counter()
        await sink.emit(
            "tool_executing",
            {"agent": AGENT, "tool": "echo", "tool_call_id": call_id,
             "args": {"chars": len(request.text)}},
        )  # fmt: skip
        await self._pause()
        words = len(request.text.split())
        await sink.emit(
            "tool_completed",
            {"agent": AGENT, "tool": "echo", "tool_call_id": call_id, "status": "ok",
             "duration_ms": int((time.perf_counter() - started) * 1000),
             "result": {"words": words}},
        )  # fmt: skip
        await self._pause()
        if await sink.cancelled():
            return await self._cancel(sink)
        text = f"(placeholder agent) You asked, in {words} word(s): {request.text[:500]}"
        message_id = await deps.save_assistant_message(text, {"pipeline": "placeholder"})
        await sink.emit(
            "agent_completed",
            {"agent": AGENT, "status": "succeeded",
             "result": {"message_id": message_id, "text": text}},
        )  # fmt: skip
        return RunResult("succeeded", message_id=message_id, text=text)
