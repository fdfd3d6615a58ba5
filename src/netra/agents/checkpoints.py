"""What each pipeline step leaves in the run's state, as JSON, and how it is restored.

After a step completes, the supervisor stores its snapshot through the run's StepStore. A
worker that takes the run over restores the completed steps from their snapshots (no events,
no tool calls, no side effects again) and executes the rest. Triage is not journaled: it only
reads (the thread's memory, the records, narrowing), so a resumed run executes it again (its
events matched with the stored ones) and rebuilds the records and the frame from the same data.
"""

from __future__ import annotations

from typing import Any

from netra.agents.engine import jsonable
from netra.agents.events import RunEmitter
from netra.agents.playbook import ActionStep
from netra.agents.subagents import RunState

STEPS = ("assistant", "data", "optimizer", "actions", "reporting")


def snapshot(step: str, st: RunState, tool_calls: list[dict[str, Any]]) -> dict[str, Any]:
    """The state ``step`` produced (JSON values only)."""
    out: dict[str, Any] = {
        "tool_calls": tool_calls,
        # What the conversation's tools produced so far (compare, follow-up actions, budget).
        "actions": jsonable(st.actions),
        "referenced": list(st.referenced),
        "budget_scope": st.budget_scope,
    }
    if step == "assistant":
        out["llm_text"] = st.llm_text
    elif step == "data":
        out.update(top_spenders=st.top_spenders, breakdowns=st.breakdowns, trend=st.trend)
    elif step == "optimizer":
        out.update(report=st.report, findings=st.findings)
    elif step == "actions":
        out["plan"] = [s.as_dict() for s in st.plan]
    elif step == "reporting":
        out.update(report_id=st.report_id, text=st.text, writer_meta=st.writer_meta)
    return out


async def restore(step: str, st: RunState, em: RunEmitter, saved: dict[str, Any]) -> None:
    """Put back what ``step`` produced, as if it had just run."""
    em.tool_calls.extend(saved.get("tool_calls") or [])
    st.actions = dict(saved.get("actions") or {})
    st.referenced = tuple(saved.get("referenced") or ())
    st.budget_scope = saved.get("budget_scope")
    if step == "assistant":
        st.llm_text = saved.get("llm_text")
    elif step == "data":
        st.top_spenders = dict(saved.get("top_spenders") or {})
        st.breakdowns = dict(saved.get("breakdowns") or {})
        st.trend = list(saved.get("trend") or [])
    elif step == "optimizer":
        st.report = saved.get("report")
        st.findings = list(saved.get("findings") or [])
    elif step == "actions":
        st.plan = [ActionStep(**s) for s in saved.get("plan") or []]
    elif step == "reporting":
        st.report_id = saved.get("report_id")
        st.text = str(saved.get("text") or "")
        st.writer_meta = dict(saved.get("writer_meta") or {})
