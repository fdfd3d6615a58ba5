"""The supervisor: runs triage, then the sub-agents triage's verdict calls for, then persists.

Implements :class:`netra.agents.contract.Pipeline`. Its first event is the supervisor's
``agent_started``, its last the supervisor's ``agent_completed`` (succeeded with
``{message_id, text, report_id?}``, cancelled, or failed with an error code). The tier's run
timeout bounds the whole run; cancellation is honoured between tool calls and agents.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable
from typing import Any

from netra.agents.assistant import run_assistant
from netra.agents.checkpoints import restore, snapshot
from netra.agents.contract import AgentDeps, EventSink, RunRequest, RunResult
from netra.agents.conversation.memory import remembered
from netra.agents.engine import AnalysisEngine, Engine
from netra.agents.events import RunCancelled, RunEmitter, ToolFailed
from netra.agents.factory import TierProfile, profile_for
from netra.agents.llm.resilient import ResilientWriter
from netra.agents.subagents import (
    RunState,
    run_actions,
    run_data,
    run_optimizer,
    run_reporting,
    run_triage,
)
from netra.core.settings import Settings

log = logging.getLogger(__name__)

SUPERVISOR = "supervisor"
Step = Callable[[RunState, RunEmitter], Awaitable[Any]]
SUBAGENTS: dict[str, Step] = {
    "data": run_data,
    "optimizer": run_optimizer,
    "actions": run_actions,
}


class AgentPipeline:
    """One per process; holds no per-run state (each call builds its own :class:`RunState`)."""

    def __init__(
        self, settings: Settings, writer: ResilientWriter, engine: Engine | None = None
    ) -> None:
        self.settings = settings
        self.writer = writer
        self.engine: Engine = engine or AnalysisEngine()

    def profile(self, tier: str) -> TierProfile:
        return profile_for(tier, self.settings)

    async def __call__(self, request: RunRequest, sink: EventSink, deps: AgentDeps) -> RunResult:
        em = RunEmitter(sink, self.settings.test_step_delay_s)
        profile = self.profile(request.context.tier)
        st = RunState(request, deps, profile, self.engine, self.writer)
        await em.started(SUPERVISOR)
        try:
            async with asyncio.timeout(profile.run_timeout_s) as deadline:
                return await self._run(st, em)
        except RunCancelled:
            await em.close_all("cancelled")
            await em.completed(SUPERVISOR, "cancelled")
            return RunResult("cancelled", metadata=self._meta(st, em))
        except TimeoutError:
            if not deadline.expired():
                return await self._fail(st, em, "agent_error", "a step timed out")
            message = (
                f"the run exceeded the {profile.tier} tier's {profile.run_timeout_s:g} s limit"
            )
            return await self._fail(st, em, "run_timeout", message)
        except ToolFailed as exc:
            log.warning("run %s: tool %s failed", request.run_id, exc.tool, exc_info=exc.cause)
            return await self._fail(st, em, "tool_failed", f"the {exc.tool} step failed")
        except Exception:
            log.exception("run %s failed", request.run_id)
            return await self._fail(st, em, "agent_error", "the analysis could not be completed")

    async def _run(self, st: RunState, em: RunEmitter) -> RunResult:
        await em.thinking(SUPERVISOR, "Asking triage what this request needs.", 0.05)
        # Triage only reads (the thread, the records): a resumed run executes it again and its
        # events are matched with the stored ones; its result is not journaled.
        await run_triage(st, em)
        plan = st.next_agents()
        if self._llm_drives(st, plan):
            # The model's answer, if every figure in it came from a tool; else the usual agents
            # run and the offline writer answers from the engine (the metadata says why).
            await self._step(st, em, "assistant", self._assistant)
            if st.llm_text is not None:
                plan = ("reporting",)
        await em.thinking(SUPERVISOR, "Plan: " + " → ".join(plan) + ".", 0.2)
        for i, agent in enumerate(plan, 1):
            await em.check_cancelled()
            await self._step(st, em, agent, SUBAGENTS.get(agent, run_reporting))
            await em.thinking(SUPERVISOR, f"{agent} done.", 0.2 + 0.75 * i / len(plan))
        await em.check_cancelled()
        text = st.text
        metadata = self._meta(st, em)
        # Idempotent per run: a re-executed run finds the message its first execution stored.
        message_id = await st.deps.save_assistant_message(text, metadata)
        result: dict[str, Any] = {"message_id": message_id, "text": text}
        if st.report_id:
            result["report_id"] = st.report_id
        await em.completed(SUPERVISOR, "succeeded", result=result)
        return RunResult(
            "succeeded",
            message_id=message_id,
            text=text,
            report_id=st.report_id,
            metadata=metadata,
        )

    async def _assistant(self, st: RunState, em: RunEmitter) -> None:
        st.llm_text = await run_assistant(st, em, self.settings)

    @staticmethod
    async def _step(st: RunState, em: RunEmitter, name: str, run: Step) -> None:
        """Execute one step and store its result; restore it instead when already stored (the
        run was taken over from a worker that died after the step)."""
        steps = st.deps.steps
        if steps is not None:
            saved = await steps.done(name)
            if saved is not None:
                await restore(name, st, em, saved)
                return
        before = len(em.tool_calls)
        await run(st, em)
        if steps is not None:
            await steps.record(name, snapshot(name, st, em.tool_calls[before:]))

    def _llm_drives(self, st: RunState, plan: tuple[str, ...]) -> bool:
        """A configured language model chooses the tools whenever the run needs any."""
        return (
            self.writer.can_call_tools
            and st.profile.allows_agent("assistant")
            and plan != ("reporting",)
        )

    async def _fail(self, st: RunState, em: RunEmitter, code: str, message: str) -> RunResult:
        error = {"code": code, "message": message}
        await em.close_all("failed", error)
        await em.completed(SUPERVISOR, "failed", error=error)
        return RunResult("failed", error=error, metadata=self._meta(st, em))

    @staticmethod
    def _meta(st: RunState, em: RunEmitter) -> dict[str, Any]:
        c = st.classification
        meta: dict[str, Any] = {
            "run_id": st.request.run_id,
            "tier": st.profile.tier,
            "intent": c.intent.value if c else None,
            "sufficiency": st.sufficiency.value,
            "focus": dict(c.focus) if c else {},
            "report_id": st.report_id,
            "records_analysed": st.coverage.records,
            "tool_calls": em.tool_calls,
        }
        meta.update(st.classifier_meta)
        meta.update(st.writer_meta)
        # What the next turn of the thread remembers (``conversation.memory``).
        shown = st.findings or list(st.memory.findings)
        meta["findings_shown"] = remembered(shown)
        meta["referenced"] = list(st.referenced)
        period = st.scope_period or st.followup.period
        meta["period"] = period.as_dict() if period else None
        meta["followup"] = st.followup.kind.value if st.followup.kind else None
        meta["budget_scope"] = st.budget_scope
        if st.llm_usage is not None:  # the language model's own calls in this run
            meta["llm_usage"] = st.llm_usage.as_dict()
        return meta
