"""The supervisor pipeline with a fake engine: events per PROTOCOL.md, persistence, plans per
intent, insufficient data, cancellation, timeout, failures (U9 lifecycle)."""

from __future__ import annotations

import asyncio
import time
from typing import Any

import pytest

from netra.agents.llm.offline import OfflineWriter
from netra.agents.llm.resilient import ResilientWriter
from netra.agents.money import dollar_figures, usd
from netra.agents.pipeline import AgentPipeline
from netra.core.resilience import CircuitBreaker
from support.agent_fakes import (
    REPORT,
    FakeEngine,
    MemoryDeps,
    RecordingSink,
    check_protocol,
    records,
    request,
)

ASK = "where is my money going and how do I cut it?"


def _pipeline(settings: Any, engine: FakeEngine | None = None) -> AgentPipeline:
    writer = ResilientWriter(None, OfflineWriter(), CircuitBreaker("llm"))
    return AgentPipeline(settings, writer, engine or FakeEngine())


def _report_figures(report: dict[str, Any]) -> set[str]:
    """Every dollar string the engine's report (and the fake tables) can justify."""
    from support import agent_fakes as f

    values: list[float] = [
        report["total_cost_usd"],
        report["projected_savings_usd"],
        report["forecast"]["monthly_run_rate_usd"],
    ]
    for finding in report["findings"]:
        values += [finding["current_cost_usd"], finding["projected_cost_usd"]]
        values.append(finding["savings_usd"])
    for rows in (f.FEATURE_ROWS, f.MODEL_ROWS, f.PROVIDER_ROWS, f.DAY_ROWS):
        values += [r["cost_usd"] for r in rows]
    return {usd(v) for v in values}


async def test_reduce_cost_runs_every_agent_and_answers_with_engine_figures(make_settings) -> None:  # type: ignore[no-untyped-def]
    sink, mem = RecordingSink(), MemoryDeps(records(600))
    result = await _pipeline(make_settings())(request(ASK), sink, mem.deps())

    check_protocol(sink.events)
    assert result.status == "succeeded"
    assert sink.agents_run() == [
        "supervisor",
        "triage",
        "data",
        "optimizer",
        "actions",
        "reporting",
    ]
    final = sink.events[-1][1]
    assert final["status"] == "succeeded"
    assert set(final["result"]) == {"message_id", "text", "report_id"}
    # Persisted: the report and the assistant message the final event points at.
    assert mem.reports[final["result"]["report_id"]] is REPORT
    text, meta = mem.messages[final["result"]["message_id"]]
    assert text == final["result"]["text"] == result.text
    assert meta["intent"] == "reduce_cost" and meta["writer"] == "offline"
    assert meta["report_id"] == result.report_id
    # The answer quotes the total and the savings, and names each top finding's scope.
    assert usd(REPORT["total_cost_usd"]) == "$12,345.68"
    assert "$12,345.68" in text and "$3,700.11" in text
    for finding in REPORT["findings"]:
        assert finding["scope"]["feature"] in text and finding["scope"]["model"] in text
        assert usd(finding["savings_usd"]) in text
    # No dollar figure the engine did not produce.
    assert set(dollar_figures(text)) <= _report_figures(REPORT)
    # The plan is ordered by savings: right-sizing ($3,234.57) first.
    plan_step = next(p for p in sink.of("tool_completed") if p["tool"] == "plan_actions")
    assert [s["kind"] for s in plan_step["result"]] == [
        "model_rightsizing",
        "response_caching",
        "retry_waste",
    ]
    assert mem.load_calls == [(None, None, 50_000)]  # the free tier's max records


async def test_each_detector_is_a_tool_call_of_the_optimizer(make_settings) -> None:  # type: ignore[no-untyped-def]
    sink, mem = RecordingSink(), MemoryDeps(records(600))
    await _pipeline(make_settings())(request(ASK), sink, mem.deps())
    optimizer_tools = [p["tool"] for p in sink.of("tool_executing") if p["agent"] == "optimizer"]
    assert optimizer_tools == ["detect_retry_waste", "detect_response_caching", "rank_findings"]
    retry = next(p for p in sink.of("tool_completed") if p["tool"] == "detect_retry_waste")
    assert retry["result"]["candidates"] == 1


@pytest.mark.parametrize(
    ("text", "agents", "data_tools"),
    [
        (
            "Give me a breakdown of our LLM spend",
            ["triage", "data", "optimizer", "reporting"],
            ["top_spenders", "top_spenders", "usage_trend"],
        ),
        (
            "Compare OpenAI and Anthropic for us",
            ["triage", "data", "optimizer", "reporting"],
            ["compare", "top_spenders", "top_spenders", "spend_breakdown", "spend_breakdown"],
        ),
        (
            "Explain the response caching finding",
            ["triage", "optimizer", "actions", "reporting"],
            [],
        ),
        (
            "what is the monthly run rate?",
            ["triage", "data", "optimizer", "reporting"],
            ["top_spenders", "top_spenders", "usage_trend"],
        ),
    ],
)
async def test_the_plan_follows_the_intent(
    make_settings, text: str, agents: list[str], data_tools: list[str]
) -> None:  # type: ignore[no-untyped-def]
    sink, mem = RecordingSink(), MemoryDeps(records(600))
    result = await _pipeline(make_settings())(request(text, tier="mid"), sink, mem.deps())
    check_protocol(sink.events)
    assert result.status == "succeeded"
    assert sink.agents_run() == ["supervisor", *agents]
    assert [p["tool"] for p in sink.of("tool_executing") if p["agent"] == "data"] == data_tools
    compared = [p["result"] for p in sink.of("tool_completed") if p["tool"] == "compare"]
    from_compare = {usd(side["cost_usd"]) for r in compared for side in r["sides"]}
    assert set(dollar_figures(result.text or "")) <= _report_figures(REPORT) | from_compare
    assert "$12,345.68" in (result.text or "")


async def test_free_tier_gets_no_trend_tool(make_settings) -> None:  # type: ignore[no-untyped-def]
    sink, mem = RecordingSink(), MemoryDeps(records(600))
    await _pipeline(make_settings())(
        request("Give me a breakdown of our LLM spend"), sink, mem.deps()
    )
    assert "usage_trend" not in sink.tools_run()


async def test_out_of_scope_is_short_and_touches_no_data(make_settings) -> None:  # type: ignore[no-untyped-def]
    sink, mem = RecordingSink(), MemoryDeps(records(600))
    engine = FakeEngine()
    result = await _pipeline(make_settings(), engine)(
        request("Write me a poem about the sea"), sink, mem.deps()
    )
    check_protocol(sink.events)
    assert sink.agents_run() == ["supervisor", "triage", "reporting"]
    assert mem.load_calls == [] and mem.reports == {} and engine.calls == []
    assert result.status == "succeeded" and result.report_id is None
    assert "report_id" not in sink.events[-1][1]["result"]
    assert len(result.text or "") < 400 and "$" not in (result.text or "")
    assert "sorry" in (result.text or "").lower()


async def test_no_data_answers_what_is_needed_without_numbers(make_settings) -> None:  # type: ignore[no-untyped-def]
    sink, mem = RecordingSink(), MemoryDeps([])
    result = await _pipeline(make_settings())(request(ASK), sink, mem.deps())
    check_protocol(sink.events)
    text = result.text or ""
    assert result.status == "succeeded" and mem.reports == {}
    assert sink.agents_run() == ["supervisor", "triage", "reporting"]
    assert dollar_figures(text) == []
    for needed in ("timestamp", "provider", "model", "input_tokens", "output_tokens"):
        assert needed in text
    assert "/api/v1/usage/upload" in text and "JSON Lines" in text


async def test_partial_data_is_flagged_in_the_answer(make_settings) -> None:  # type: ignore[no-untyped-def]
    sink, mem = RecordingSink(), MemoryDeps(records(50, days=2))
    result = await _pipeline(make_settings())(request(ASK), sink, mem.deps())
    assert result.status == "succeeded"
    assert "early indications" in (result.text or "")
    assert mem.messages[result.message_id or ""][1]["sufficiency"] == "partial"


async def test_cancel_between_tool_calls(make_settings) -> None:  # type: ignore[no-untyped-def]
    sink, mem = RecordingSink(cancel_after_tools=2), MemoryDeps(records(600))
    result = await _pipeline(make_settings())(request(ASK), sink, mem.deps())
    check_protocol(sink.events)
    assert result.status == "cancelled"
    assert len(sink.of("tool_executing")) == 2  # nothing started after the cancel was seen
    assert sink.events[-1][1] == {"agent": "supervisor", "status": "cancelled"}
    assert sink.events[-2][1] == {"agent": "data", "status": "cancelled"}
    assert mem.messages == {} and mem.reports == {}


async def test_cancel_during_detectors_stops_the_engine_thread(make_settings) -> None:  # type: ignore[no-untyped-def]
    # Tools: usage_coverage, top_spenders x2, detect_retry_waste -> cancel before the next one.
    sink, mem = RecordingSink(cancel_after_tools=4), MemoryDeps(records(600))
    result = await _pipeline(make_settings())(request(ASK), sink, mem.deps())
    check_protocol(sink.events)
    assert result.status == "cancelled"
    assert sink.tools_run()[-1] == "detect_retry_waste"
    assert [p["agent"] for p in sink.of("agent_completed")][-2:] == ["optimizer", "supervisor"]


async def test_run_timeout_fails_the_run_and_closes_every_open_event(make_settings) -> None:  # type: ignore[no-untyped-def]
    engine = FakeEngine(on_analyze=lambda: time.sleep(0.5))
    sink, mem = RecordingSink(), MemoryDeps(records(600))
    settings = make_settings(run_timeout_free_s=0.2)
    result = await _pipeline(settings, engine)(request(ASK), sink, mem.deps())
    assert result.status == "failed"
    assert result.error and result.error["code"] == "run_timeout"
    # The engine thread runs on after the timeout; once it is over, it must have added nothing.
    assert await asyncio.to_thread(engine.analyzed.wait, 30)
    check_protocol(sink.events)
    final = sink.events[-1][1]
    assert final["status"] == "failed" and final["error"]["code"] == "run_timeout"


async def test_a_failing_tool_fails_the_run_cleanly(make_settings) -> None:  # type: ignore[no-untyped-def]
    sink, mem = RecordingSink(), MemoryDeps(records(600))
    engine = FakeEngine(fail_in="top_spenders")
    result = await _pipeline(make_settings(), engine)(request(ASK), sink, mem.deps())
    check_protocol(sink.events)
    assert result.status == "failed" and result.error
    assert result.error["code"] == "tool_failed"
    failed = sink.of("tool_completed")[-1]
    assert failed["tool"] == "top_spenders" and failed["status"] == "error"
    assert sink.events[-2][1]["agent"] == "data" and sink.events[-2][1]["status"] == "failed"
    assert mem.messages == {}


async def test_two_concurrent_runs_share_no_state(make_settings) -> None:  # type: ignore[no-untyped-def]
    pipeline = _pipeline(make_settings())
    a_sink, a_mem = RecordingSink(), MemoryDeps(records(600))
    b_sink, b_mem = RecordingSink(), MemoryDeps([])
    a, b = await asyncio.gather(
        pipeline(request(ASK), a_sink, a_mem.deps()),
        pipeline(request(ASK), b_sink, b_mem.deps()),
    )
    check_protocol(a_sink.events)
    check_protocol(b_sink.events)
    assert "$12,345.68" in (a.text or "")
    assert dollar_figures(b.text or "") == [] and b_mem.reports == {}
