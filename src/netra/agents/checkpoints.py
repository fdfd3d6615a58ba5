"""What each pipeline step leaves in the run's state, as JSON, and how it is restored.

After a step completes, the supervisor stores its snapshot through the run's StepStore. A
worker that takes the run over restores the completed steps from their snapshots (no events,
no tool calls, no side effects again) and executes the rest. Records are not stored: they are
loaded again (the same query), so the frame is rebuilt from the same data.
"""

from __future__ import annotations

from typing import Any

from netra.agents.events import RunEmitter
from netra.agents.playbook import ActionStep
from netra.agents.subagents import RunState
from netra.agents.triage import Classification, Intent, Sufficiency, coverage_of

STEPS = ("triage", "data", "optimizer", "actions", "reporting")


def snapshot(step: str, st: RunState, tool_calls: list[dict[str, Any]]) -> dict[str, Any]:
    """The state ``step`` produced (JSON values only)."""
    out: dict[str, Any] = {"tool_calls": tool_calls}
    if step == "triage":
        c = st.classification
        out["classification"] = (
            None
            if c is None
            else {
                "intent": c.intent.value,
                "scores": dict(c.scores),
                "finding_kinds": list(c.finding_kinds),
                "focus": dict(c.focus),
            }
        )
        out["records_loaded"] = bool(st.records)
        out["sufficiency"] = st.sufficiency.value
        out["sufficiency_reason"] = st.sufficiency_reason
        out["classifier_meta"] = dict(st.classifier_meta)
    elif step == "data":
        out.update(top_spenders=st.top_spenders, breakdowns=st.breakdowns, trend=st.trend)
    elif step == "optimizer":
        out.update(report=st.report, findings=st.findings)
    elif step == "actions":
        out["plan"] = [s.as_dict() for s in st.plan]
    elif step == "reporting":
        out.update(report_id=st.report_id, text=st.text, writer_meta=st.writer_meta)
    elif step == "report_saved":
        out["report_id"] = st.report_id
    return out


async def restore(step: str, st: RunState, em: RunEmitter, saved: dict[str, Any]) -> None:
    """Put back what ``step`` produced, as if it had just run."""
    em.tool_calls.extend(saved.get("tool_calls") or [])
    if step == "triage":
        c = saved.get("classification")
        if c is not None:
            st.classification = Classification(
                Intent(c["intent"]),
                dict(c.get("scores") or {}),
                tuple(c.get("finding_kinds") or ()),
                dict(c.get("focus") or {}),
            )
        if saved.get("records_loaded"):
            limit = st.profile.max_records
            st.records = await st.deps.load_records(None, None, limit)
            st.coverage = coverage_of(st.records, limit=limit)
        st.sufficiency = Sufficiency(saved["sufficiency"])
        st.sufficiency_reason = str(saved["sufficiency_reason"])
        st.classifier_meta = dict(saved.get("classifier_meta") or {})
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
    elif step == "report_saved":
        st.report_id = saved.get("report_id")
