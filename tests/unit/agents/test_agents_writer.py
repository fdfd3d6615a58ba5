"""The offline writer per intent, and graceful degradation when the LLM fails (U4)."""

from __future__ import annotations

import itertools
from dataclasses import replace
from typing import Any

import pytest

from netra.agents.llm.base import AnswerBrief, LLMError
from netra.agents.llm.offline import OfflineWriter, compose
from netra.agents.llm.resilient import ResilientWriter
from netra.agents.money import dollar_figures, pct, usd
from netra.agents.pipeline import AgentPipeline
from netra.agents.playbook import plan_actions
from netra.core.resilience import CircuitBreaker, CircuitState
from support.agent_fakes import (
    FEATURE_ROWS,
    MODEL_ROWS,
    PROVIDER_ROWS,
    REPORT,
    FakeEngine,
    MemoryDeps,
    RecordingSink,
    check_protocol,
    records,
    request,
)


def _brief(intent: str, **changes: Any) -> AnswerBrief:
    findings = sorted(REPORT["findings"], key=lambda f: -f["savings_usd"])
    brief = AnswerBrief(
        question="q",
        intent=intent,
        sufficiency="sufficient",
        sufficiency_reason="600 records over 14.0 days",
        coverage={"records": 600, "truncated": False},
        report=REPORT,
        top_spenders={"feature": FEATURE_ROWS, "model": MODEL_ROWS},
        breakdowns={"provider": PROVIDER_ROWS, "model": MODEL_ROWS},
        findings=findings,
        plan=[s.as_dict() for s in plan_actions(findings, 5)],
        report_id="rep_9",
    )
    return replace(brief, **changes)


def test_money_format() -> None:
    assert usd(1234.5) == "$1,234.50"
    assert usd(0.004) == "$0.00"
    assert usd(1_000_000) == "$1,000,000.00"
    assert usd(-3) == "-$3.00"
    assert pct(29.97) == "29.97%" and pct(12.0) == "12%"
    assert dollar_figures("save $1,234.56 of $10.00, not 5$ or $3") == ["$1,234.56", "$10.00"]


INTENTS = ("spend_overview", "reduce_cost", "compare", "explain_finding", "budget")


def test_each_intent_gets_its_own_answer() -> None:
    texts = {i: compose(_brief(i, finding_kinds=("response_caching",))) for i in INTENTS}
    for a, b in itertools.combinations(INTENTS, 2):
        assert texts[a] != texts[b], (a, b)
    for text in texts.values():
        assert "$12,345.68" in text  # the period's total, always
        assert "rep_9" in text
    assert "support-chat: $7,000.00 (56.7%)" in texts["spend_overview"]
    assert "openai: $9,345.68" in texts["compare"]
    assert "$26,454.88" in texts["budget"] and "/api/v1/budgets" in texts["budget"]
    assert "Identical prompts" in texts["explain_finding"]
    assert "repeat rate: 0.33" in texts["explain_finding"]
    assert "What to do, in order" in texts["reduce_cost"]


def test_reduce_cost_names_feature_model_change_savings_risk_verification() -> None:
    text = compose(_brief("reduce_cost"))
    assert "$3,700.11" in text and "29.97%" in text
    assert 'Route "support-chat" from gpt-4o to gpt-4o-mini' in text
    assert "Expected savings **$3,234.57**" in text
    assert text.index("$3,234.57") < text.index("$300.25") < text.index("$225.00")
    assert text.count("Risk:") == 3 and text.count("How to verify:") == 3


def test_focus_puts_the_asked_scope_first() -> None:
    text = compose(_brief("reduce_cost", focus={"feature": "summaries"}))
    findings_part = text[text.index("Top findings") :]
    assert findings_part.index("Retry storm") < findings_part.index("smaller model")


def test_explain_an_absent_kind_says_so() -> None:
    text = compose(_brief("explain_finding", finding_kinds=("batch_eligible",)))
    assert "no batch eligible finding" in text


def test_insufficient_data_has_no_numbers_and_says_how_to_upload() -> None:
    brief = _brief(
        "reduce_cost",
        sufficiency="insufficient",
        sufficiency_reason="no usage records have been uploaded yet",
        report=None,
    )
    text = compose(brief)
    assert dollar_figures(text) == []
    assert "no usage records" in text and "POST /api/v1/usage/upload" in text
    assert "netra demo-data" in text


def test_truncation_and_partial_data_are_disclosed() -> None:
    text = compose(
        _brief(
            "reduce_cost",
            sufficiency="partial",
            sufficiency_reason="the records span only 2.0 days",
            coverage={"records": 50_000, "truncated": True},
            max_records=50_000,
            tier="free",
        )
    )
    assert "span only 2.0 days" in text and "at most 50,000 records" in text


# ---- graceful degradation ------------------------------------------------------------


class Scripted:
    """An LLM provider that answers from a script: exceptions are raised, strings returned."""

    name = "scripted"

    def __init__(self, *script: Any) -> None:
        self.script = list(script)
        self.calls = 0

    async def write(self, brief: AnswerBrief) -> str:
        self.calls += 1
        step = self.script[min(self.calls, len(self.script)) - 1]
        if isinstance(step, BaseException):
            raise step
        return str(step)


async def _no_sleep(s: float) -> None:
    return None


class Clock:
    now = 0.0

    def __call__(self) -> float:
        return self.now


def _resilient(primary: Any, **kw: Any) -> ResilientWriter:
    breaker = kw.pop("breaker", None) or CircuitBreaker("llm", failure_threshold=3)
    return ResilientWriter(primary, OfflineWriter(), breaker, sleep=_no_sleep, **kw)


async def test_llm_success_is_used() -> None:
    good = "You spent $12,345.68; cut $3,700.11 by starting with support-chat on gpt-4o."
    writer = _resilient(Scripted(good))
    text, meta = await writer.write(_brief("reduce_cost"))
    assert text == good
    assert meta == {"writer": "scripted", "degraded": False, "llm_attempts": 1}


async def test_transient_errors_are_retried_then_succeed() -> None:
    llm = Scripted(LLMError("503", transient=True), "Total $12,345.68.")
    text, meta = await _resilient(llm).write(_brief("reduce_cost"))
    assert text == "Total $12,345.68." and llm.calls == 2 and meta["llm_attempts"] == 2


async def test_transient_errors_exhausted_fall_back_to_offline() -> None:
    llm = Scripted(LLMError("timeout", transient=True))
    brief = _brief("reduce_cost")
    text, meta = await _resilient(llm, attempts=3).write(brief)
    assert text == compose(brief)
    assert llm.calls == 3
    assert meta["degraded"] is True and meta["degraded_reason"] == "llm_transient_error"
    assert meta["writer"] == "offline"


async def test_permanent_error_is_not_retried() -> None:
    llm = Scripted(LLMError("401 bad key", transient=False))
    text, meta = await _resilient(llm, attempts=3).write(_brief("budget"))
    assert llm.calls == 1
    assert meta["degraded_reason"] == "llm_permanent_error"
    assert text == compose(_brief("budget"))


async def test_open_breaker_skips_the_llm_then_half_opens_and_recovers() -> None:
    clock = Clock()
    breaker = CircuitBreaker("llm", failure_threshold=2, reset_timeout_s=30, clock=clock)
    llm = Scripted(
        LLMError("down", transient=True), LLMError("down", transient=True), "Back: $12,345.68."
    )
    writer = _resilient(llm, breaker=breaker, attempts=1)
    for _ in range(2):
        await writer.write(_brief("reduce_cost"))
    assert breaker.state is CircuitState.OPEN
    text, meta = await writer.write(_brief("reduce_cost"))
    assert llm.calls == 2  # not called while open
    assert meta["degraded_reason"] == "circuit_open" and meta["circuit"] == "open"
    assert text == compose(_brief("reduce_cost"))
    clock.now += 30
    text, meta = await writer.write(_brief("reduce_cost"))
    assert text == "Back: $12,345.68." and meta["degraded"] is False
    assert breaker.state is CircuitState.CLOSED


async def test_llm_text_with_invented_figures_is_refused() -> None:
    llm = Scripted("You could save $9,999.99 by magic.")
    text, meta = await _resilient(llm).write(_brief("reduce_cost"))
    assert meta["degraded_reason"] == "llm_unverified_figures"
    assert "$9,999.99" not in text and "$3,700.11" in text


async def test_run_succeeds_degraded_when_the_llm_is_down(make_settings) -> None:  # type: ignore[no-untyped-def]
    llm = Scripted(LLMError("connection refused", transient=True))
    pipeline = AgentPipeline(make_settings(), _resilient(llm), FakeEngine())
    sink, mem = RecordingSink(), MemoryDeps(records(600))
    result = await pipeline(request("how do I cut costs?"), sink, mem.deps())
    check_protocol(sink.events)
    assert result.status == "succeeded"
    assert "$12,345.68" in (result.text or "")
    _, meta = mem.messages[result.message_id or ""]
    assert meta["degraded"] is True and meta["writer"] == "offline"
    assert meta["degraded_reason"] == "llm_transient_error"
    notes = [p["thought"] for p in sink.of("agent_thinking") if p["agent"] == "reporting"]
    assert any("offline writer" in n for n in notes)


@pytest.mark.parametrize("intent", INTENTS)
def test_offline_figures_all_come_from_the_report(intent: str) -> None:
    allowed = {usd(REPORT["total_cost_usd"]), usd(REPORT["projected_savings_usd"])}
    allowed.add(usd(REPORT["forecast"]["monthly_run_rate_usd"]))
    for f in REPORT["findings"]:
        allowed |= {usd(f[k]) for k in ("current_cost_usd", "projected_cost_usd", "savings_usd")}
    for rows in (FEATURE_ROWS, MODEL_ROWS, PROVIDER_ROWS):
        allowed |= {usd(r["cost_usd"]) for r in rows}
    text = compose(_brief(intent, finding_kinds=("retry_waste",)))
    assert set(dollar_figures(text)) <= allowed


def test_focus_without_a_finding_says_so_with_its_spend() -> None:
    brief = _brief("reduce_cost", focus={"feature": "checkout"})
    rows = [*FEATURE_ROWS, {"key": "checkout", "records": 3, "cost_usd": 12.5, "share_pct": 0.1}]
    text = compose(replace(brief, top_spenders={"feature": rows, "model": MODEL_ROWS}))
    assert "found no saving specific to it. It cost $12.50 (0.1%)" in text


class Labeller(Scripted):
    """A provider that also classifies: ``label`` (or an exception) for every request."""

    def __init__(self, label: Any, *script: Any) -> None:
        super().__init__(*script)
        self.label = label
        self.asked: list[tuple[str, tuple[str, ...]]] = []

    async def classify(self, text: str, labels: Any) -> str | None:
        self.asked.append((text, tuple(labels)))
        if isinstance(self.label, BaseException):
            raise self.label
        return str(self.label) if self.label in labels else None


async def test_the_llm_places_free_text_the_rules_could_not(make_settings) -> None:  # type: ignore[no-untyped-def]
    llm = Labeller("reduce_cost", LLMError("down", transient=False))
    pipeline = AgentPipeline(make_settings(), _resilient(llm), FakeEngine())
    sink, mem = RecordingSink(), MemoryDeps(records(600))
    text = "our robots are burning through the treasury, help"
    result = await pipeline(request(text), sink, mem.deps())
    check_protocol(sink.events)
    assert llm.asked and llm.asked[0][0] == text and "reduce_cost" in llm.asked[0][1]
    assert sink.tools_run()[0] == "classify_request"
    assert sink.agents_run() == [
        "supervisor",
        "triage",
        "data",
        "optimizer",
        "actions",
        "reporting",
    ]
    assert result.metadata["intent"] == "reduce_cost"
    assert result.metadata["classifier"] == "scripted"
    assert "$3,700.11" in (result.text or "")  # worded offline: the LLM's write failed


@pytest.mark.parametrize(
    ("label", "note"),
    [
        ("out_of_scope", None),
        ("something else", None),
        (LLMError("503", transient=True), "llm_transient_error"),
    ],
)
async def test_without_a_usable_label_the_request_stays_out_of_scope(  # type: ignore[no-untyped-def]
    make_settings, label: Any, note: str | None
) -> None:
    llm = Labeller(label, "unused")
    pipeline = AgentPipeline(make_settings(), _resilient(llm), FakeEngine())
    sink, mem = RecordingSink(), MemoryDeps(records(600))
    result = await pipeline(request("tell me a joke"), sink, mem.deps())
    check_protocol(sink.events)
    assert sink.agents_run() == ["supervisor", "triage", "reporting"]
    assert result.metadata["intent"] == "out_of_scope" and mem.load_calls == []
    assert result.metadata.get("classifier_reason") == note


async def test_rules_first_the_llm_is_not_asked_when_they_match(make_settings) -> None:  # type: ignore[no-untyped-def]
    llm = Labeller("budget", "Total $12,345.68.")
    pipeline = AgentPipeline(make_settings(), _resilient(llm), FakeEngine())
    sink, mem = RecordingSink(), MemoryDeps(records(600))
    result = await pipeline(request("how do I cut costs?"), sink, mem.deps())
    assert llm.asked == [] and result.metadata["intent"] == "reduce_cost"
