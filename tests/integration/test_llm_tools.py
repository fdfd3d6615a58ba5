"""The language model drives the tools (U20): a local OpenAI-compatible server answers with
scripted function calls over real HTTP; the run executes them with their events, a scripted
answer quoting a figure no tool produced is caught and replaced, the step budget holds, and the
model's own calls are counted."""

from __future__ import annotations

from typing import Any

import pytest

from netra.agents.component import build_writer
from netra.agents.money import dollar_figures, usd
from support.conversation import Chat, demo_records, only, report_of
from support.fake_openai import USAGE, Script, fake_openai

RECORDS = demo_records()
REPORT = report_of(RECORDS)
ASK = "where is my money going and how do I cut it?"


def chat_with(make_settings: Any, url: str, **kwargs: Any) -> Chat:
    settings = make_settings(llm_base_url=url, llm_api_key="sk-test", llm_model="gpt-4o-mini")
    return Chat(settings, writer=build_writer(settings), **kwargs)


def tool_events(chat: Chat) -> list[tuple[str, str, str]]:
    """(event, agent, tool) of the last turn's tool events, in order."""
    return [
        (t, p["agent"], p["tool"])
        for t, p in chat.events
        if t in ("tool_executing", "tool_completed")
    ]


async def test_the_model_calls_tools_and_its_checked_answer_is_sent(make_settings: Any) -> None:
    total, savings = usd(REPORT["total_cost_usd"]), usd(REPORT["projected_savings_usd"])
    answer = f"You spent {total}. Doing the findings would save {savings}."
    script = Script([
        {"tool_calls": [("spend_breakdown", {"by": "feature"})]},
        {"tool_calls": [("run_analysis", {})]},
        {"content": answer},
    ])  # fmt: skip
    with fake_openai(script) as url:
        chat = chat_with(make_settings, url)
        said = await chat.say(ASK)
    assert said.status == "succeeded"
    assert said.text == answer
    assert [e for e in tool_events(chat) if e[1] == "assistant"] == [
        ("tool_executing", "assistant", "spend_breakdown"),
        ("tool_completed", "assistant", "spend_breakdown"),
        ("tool_executing", "assistant", "run_analysis"),
        ("tool_completed", "assistant", "run_analysis"),
    ]
    assert said.results["run_analysis"]["total_cost_usd"] == REPORT["total_cost_usd"]
    # The tools were offered as functions and their results went back to the model.
    first, last = script.requests[0], script.requests[-1]
    assert {t["function"]["name"] for t in first["tools"]} >= {"run_analysis", "compare"}
    assert [m["role"] for m in last["messages"]] == [
        "system", "user", "assistant", "tool", "assistant", "tool",
    ]  # fmt: skip
    assert (
        total in last["messages"][-1]["content"]
        or str(REPORT["total_cost_usd"]) in (last["messages"][-1]["content"])
    )
    meta = said.meta
    assert meta["writer"] == "llm_tools" and meta["degraded"] is False
    usage = meta["llm_usage"]
    assert usage["calls"] == 3
    assert usage["input_tokens"] == 3 * USAGE["prompt_tokens"]
    assert usage["output_tokens"] == 3 * USAGE["completion_tokens"]
    assert usage["cost_usd"] is not None and usage["cost_usd"] > 0  # gpt-4o-mini is priced


async def test_an_answer_with_an_invented_figure_is_replaced(make_settings: Any) -> None:
    invented = "$12,345.67"
    assert invented not in {usd(v) for v in (REPORT["total_cost_usd"],)}
    script = Script([
        {"tool_calls": [("run_analysis", {})]},
        {"content": f"You could save {invented} a month by switching everything to haiku."},
    ])  # fmt: skip
    with fake_openai(script) as url:
        chat = chat_with(make_settings, url)
        said = await chat.say(ASK)
    assert said.status == "succeeded"
    assert invented not in said.text
    assert usd(REPORT["total_cost_usd"]) in said.text  # the engine's offline answer instead
    assert said.meta["degraded"] is True
    assert said.meta["degraded_reason"] == "llm_unverified_figures"
    assert invented in said.meta["unverified"]
    thoughts = [p["thought"] for t, p in chat.events if t == "agent_thinking"]
    assert any(invented in t and "no tool produced" in t for t in thoughts)


async def test_the_tier_step_budget_bounds_the_model(make_settings: Any) -> None:
    script = Script([{"tool_calls": [("spend_breakdown", {"by": "model"})]}])  # forever
    with fake_openai(script) as url:
        chat = chat_with(make_settings, url, tier="free")
        said = await chat.say(ASK)
    steps = 4  # the free tier's llm_steps_per_run (tiers.py)
    assert len(script.requests) == steps
    assert said.status == "succeeded" and said.meta["degraded_reason"] == "llm_step_limit"
    assert usd(REPORT["total_cost_usd"]) in said.text
    assert said.meta["llm_usage"]["calls"] == steps


async def test_a_bad_call_is_answered_to_the_model_and_budgets_need_the_role(
    make_settings: Any,
) -> None:
    script = Script([
        {"tool_calls": [("drop_tables", {}), ("create_budget",
                        {"scope": "org", "period": "month", "limit_usd": 50})]},
        {"content": "I could not create the budget: your role may not."},
    ])  # fmt: skip
    with fake_openai(script) as url:
        chat = chat_with(make_settings, url, role="member")
        said = await chat.say("set a budget of $50 for us")
    assert said.status == "succeeded"
    assert chat.budgets == []
    assert set(said.errors) == {"drop_tables", "create_budget"}
    replies = [m for m in script.requests[-1]["messages"] if m["role"] == "tool"]
    assert "not allowed tool" in replies[0]["content"]
    assert "may not create budgets" in replies[1]["content"]


async def test_the_model_sees_the_thread_memory_and_narrows(make_settings: Any) -> None:
    script = Script([{"content": "Here is your overview."}])
    with fake_openai(script) as url:
        chat = chat_with(make_settings, url)
        await chat.say("what did we spend?")  # answered without tools: offline figures stored
    gpt4o = only(RECORDS, model="gpt-4o")
    total = usd(report_of(gpt4o)["total_cost_usd"])
    script2 = Script([
        {"tool_calls": [("narrow_scope", {"model": "gpt-4o"})]},
        {"tool_calls": [("run_analysis", {})]},
        {"content": f"gpt-4o cost {total}."},
    ])  # fmt: skip
    with fake_openai(script2) as url:
        chat.writer = build_writer(chat.settings.model_copy(update={"llm_base_url": url}))
        said = await chat.say("what about gpt-4o?")
    assert said.text == f"gpt-4o cost {total}."
    assert said.results["narrow_scope"]["records"] == len(gpt4o)
    system = script2.requests[0]["messages"][0]["content"]
    assert "MEMORY: the last answer was about" in system
    assert dollar_figures(said.text) == [total]


@pytest.mark.parametrize("reply", [{"content": ""}, {"content": None}])
async def test_an_empty_answer_falls_back(make_settings: Any, reply: dict[str, Any]) -> None:
    with fake_openai(Script([reply])) as url:
        said = await chat_with(make_settings, url).say(ASK)
    assert said.status == "succeeded" and said.meta["degraded_reason"] == "llm_empty_answer"
    assert usd(REPORT["total_cost_usd"]) in said.text
