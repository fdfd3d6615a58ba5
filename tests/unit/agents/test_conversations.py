"""Multi-turn conversations with the real pipeline and engine, offline (U19): follow-ups are
resolved against the thread's earlier turns, the right tools run, and every figure quoted is the
engine's own, computed here directly on the same records (``support.conversation.report_of``).
"""

from __future__ import annotations

from typing import Any

import pytest

from netra.agents.money import usd
from support.conversation import (
    Chat,
    budget_limit,
    demo_records,
    last_days,
    only,
    report_of,
    run_rate,
)

ASK = "where is my money going and how do I cut it?"
RECORDS = demo_records()
REPORT = report_of(RECORDS)
RANKED = sorted(REPORT["findings"], key=lambda f: f["savings_usd"], reverse=True)


@pytest.fixture
def chat(make_settings: Any) -> Chat:
    return Chat(make_settings())


def followed(said: Any, *tools: str) -> None:
    """The turn read the thread's memory and ran these action tools."""
    assert said.status == "succeeded", said.text
    assert "thread_memory" in said.tools
    for tool in tools:
        assert tool in said.tools, (tool, said.tools)


def total_of(records: list[Any]) -> str:
    return usd(report_of(records)["total_cost_usd"])


# ---- references to findings ----------------------------------------------------------------


async def test_why_that_one_explains_the_top_finding(chat: Chat) -> None:
    first = await chat.say(ASK)
    assert usd(REPORT["total_cost_usd"]) in first.text
    why = await chat.say("why that one?")
    followed(why, "explain_finding")
    top = RANKED[0]
    assert why.results["explain_finding"]["findings"][0]["title"] == top["title"]
    assert usd(top["savings_usd"]) in why.text and usd(top["current_cost_usd"]) in why.text
    # The engine is not run again for an explanation: no detector tool in this turn.
    assert not [t for t in why.tools if t.startswith("detect_")]


async def test_the_second_one_and_then_it(chat: Chat) -> None:
    await chat.say(ASK)
    second = await chat.say("tell me more about the second one")
    followed(second, "explain_finding")
    assert RANKED[1]["title"] in second.text
    assert usd(RANKED[1]["savings_usd"]) in second.text
    budget = await chat.say("set a budget for it")
    followed(budget, "create_budget")
    feature = RANKED[1]["scope"]["feature"]
    expected = budget_limit(run_rate(only(RECORDS, feature=feature)))
    assert chat.budgets == [(f"feature:{feature}", "month", expected)]
    assert usd(expected) in budget.text


async def test_how_much_if_we_do_the_first_two(chat: Chat) -> None:
    await chat.say(ASK)
    what_if = await chat.say("how much if we do the first two?")
    followed(what_if, "estimate_savings")
    a, b = RANKED[0], RANKED[1]
    assert (a["scope"].get("feature"), a["scope"].get("model")) != (
        b["scope"].get("feature"),
        b["scope"].get("model"),
    )  # different traffic: the savings add up
    assert what_if.results["estimate_savings"]["savings_usd"] == pytest.approx(
        a["savings_usd"] + b["savings_usd"], abs=0.01
    )
    assert usd(a["savings_usd"] + b["savings_usd"]) in what_if.text


async def test_numbered_findings_and_both(chat: Chat) -> None:
    await chat.say(ASK)
    said = await chat.say("what would #1 and #3 save together?")
    followed(said, "estimate_savings")
    assert [f["index"] for f in said.results["estimate_savings"]["findings"]] == [1, 3]
    both = await chat.say("explain both")
    followed(both, "explain_finding")
    assert [f["index"] for f in both.results["explain_finding"]["findings"]] == [1, 2]


async def test_all_of_them_saves_what_the_findings_add_up_to(chat: Chat) -> None:
    await chat.say(ASK)
    said = await chat.say("and if we did all of them?")
    followed(said, "estimate_savings")
    chosen = said.results["estimate_savings"]["findings"]
    assert len(chosen) == min(10, len(RANKED))
    assert [f["title"] for f in chosen] == [f["title"] for f in RANKED[: len(chosen)]]


async def test_explain_that_number_names_records_and_prices(chat: Chat) -> None:
    await chat.say("where is my money going?")
    said = await chat.say("how did you get that number?")
    followed(said, "explain_number")
    result = said.results["explain_number"]
    assert result["records"] == len(RECORDS)
    assert result["cost_usd"] == pytest.approx(REPORT["total_cost_usd"], abs=0.01)
    billed = sum(1 for r in RECORDS if r.cost_usd is not None)
    assert result["billed_records"] == billed
    assert f"{billed:,} of them carry the cost you were billed" in said.text
    assert "per million tokens" in said.text


# ---- narrowing the scope ------------------------------------------------------------------


async def test_what_about_a_model_then_only_last_week(chat: Chat) -> None:
    await chat.say("where is my money going?")
    model = await chat.say("what about gpt-4o?")
    followed(model, "narrow_scope")
    gpt4o = only(RECORDS, model="gpt-4o")
    assert model.results["narrow_scope"]["records"] == len(gpt4o)
    assert total_of(gpt4o) in model.text
    week = await chat.say("and only last week?")
    followed(week, "narrow_scope")
    recent = [r for r in last_days(RECORDS, 7) if r.model == "gpt-4o"]
    assert week.results["narrow_scope"]["records"] == len(recent)
    assert total_of(recent) in week.text
    assert week.meta["focus"] == {"model": "gpt-4o"} and week.meta["period"]["start"]


async def test_a_feature_follow_up_keeps_the_question(chat: Chat) -> None:
    first = await chat.say(ASK)
    assert first.meta["intent"] == "reduce_cost"
    said = await chat.say("what about support-chat?")
    followed(said, "narrow_scope")
    assert said.meta["intent"] == "reduce_cost"  # the earlier question, for that feature
    assert total_of(only(RECORDS, feature="support-chat")) in said.text


async def test_last_fourteen_days_in_a_first_message(chat: Chat) -> None:
    said = await chat.say("where did the money go in the last 14 days?")
    assert "narrow_scope" in said.tools and "thread_memory" not in said.tools
    assert total_of(last_days(RECORDS, 14)) in said.text


async def test_a_scope_with_no_usage_says_so(chat: Chat) -> None:
    await chat.say("where is my money going?")
    said = await chat.say("what about gpt-4o only yesterday for search-assist?")
    assert said.status == "succeeded"
    assert "narrow_scope" in said.tools
    narrowed = said.results["narrow_scope"]["records"]
    expected = [
        r
        for r in last_days(RECORDS, 2)
        if r.model == "gpt-4o" and r.feature == "search-assist"
        and r.timestamp < max(x.timestamp for x in RECORDS).replace(hour=0, minute=0, second=0,
                                                                     microsecond=0)
    ]  # fmt: skip
    assert narrowed == len(expected)
    if narrowed == 0:
        assert "no usage of" in said.text


# ---- comparisons ---------------------------------------------------------------------------


async def test_compare_two_models(chat: Chat) -> None:
    said = await chat.say("compare gpt-4o with claude-sonnet-4-5")
    assert said.status == "succeeded" and "compare" in said.tools
    sides = said.results["compare"]["sides"]
    for side, model in zip(sides, ("gpt-4o", "claude-sonnet-4-5"), strict=True):
        records = only(RECORDS, model=model)
        assert side["calls"] == len(records)
        assert side["cost_usd"] == pytest.approx(report_of(records)["total_cost_usd"], abs=0.01)
        assert usd(side["cost_usd"]) in said.text


async def test_compare_against_the_model_in_focus(chat: Chat) -> None:
    await chat.say("what did we spend on gpt-4o?")
    said = await chat.say("compare it against gpt-4o-mini")
    assert "compare" in said.tools
    labels = [s["label"] for s in said.results["compare"]["sides"]]
    assert labels == ["model gpt-4o", "model gpt-4o-mini"]


async def test_compare_this_week_with_last_week(chat: Chat) -> None:
    await chat.say("where is my money going?")
    said = await chat.say("compare the last 7 days against the last 14 days")
    assert "compare" in said.tools
    a, b = said.results["compare"]["sides"]
    assert a["calls"] == len(last_days(RECORDS, 7))
    assert b["calls"] == len(last_days(RECORDS, 14))


# ---- budgets and permissions ----------------------------------------------------------------


async def test_a_budget_with_an_amount_and_a_daily_period(chat: Chat) -> None:
    await chat.say(ASK)
    said = await chat.say("put a daily budget of $25 on contract-review")
    followed(said, "create_budget")
    assert chat.budgets == [("feature:contract-review", "day", 25.0)]
    assert "$25.00" in said.text


async def test_a_budget_in_a_first_message(chat: Chat) -> None:
    said = await chat.say("set a monthly budget of $2k for gpt-4o")
    assert said.status == "succeeded" and "create_budget" in said.tools
    assert chat.budgets == [("model:gpt-4o", "month", 2000.0)]


async def test_a_member_may_not_create_budgets(make_settings: Any) -> None:
    chat = Chat(make_settings(), role="member")
    await chat.say(ASK)
    said = await chat.say("set a budget for the first one")
    assert said.status == "succeeded"
    assert "create_budget" in said.errors and chat.budgets == []
    assert "did not create" in said.text and "may not create budgets" in said.text


# ---- longer threads ---------------------------------------------------------------------------


async def test_five_turns_keep_their_references(chat: Chat) -> None:
    await chat.say(ASK)
    third = await chat.say("explain the third one")
    assert RANKED[2]["title"] in third.text
    again = await chat.say("and how much would it save?")
    followed(again, "estimate_savings")
    assert again.results["estimate_savings"]["findings"][0]["title"] == RANKED[2]["title"]
    model = await chat.say("what about claude-sonnet-4-5?")
    followed(model, "narrow_scope")
    sonnet = only(RECORDS, model="claude-sonnet-4-5")
    assert total_of(sonnet) in model.text
    top = await chat.say("why the first one?")
    # "the first one" now means the first finding of the claude-sonnet-4-5 answer.
    scoped = sorted(report_of(sonnet)["findings"], key=lambda f: f["savings_usd"], reverse=True)
    assert top.results["explain_finding"]["findings"][0]["title"] == scoped[0]["title"]


async def test_a_new_question_starts_afresh_in_the_same_thread(chat: Chat) -> None:
    await chat.say("what about the first one?")  # nothing to refer to yet: a plain answer
    await chat.say(ASK)
    said = await chat.say("Give me a breakdown of our LLM spend by model")
    assert said.status == "succeeded" and "narrow_scope" not in said.tools
    assert usd(REPORT["total_cost_usd"]) in said.text


async def test_out_of_scope_inside_a_thread_stays_out_of_scope(chat: Chat) -> None:
    await chat.say(ASK)
    said = await chat.say("write me a poem about the sea")
    assert said.status == "succeeded"
    assert said.meta["intent"] == "out_of_scope"
    assert "outside what I can help with" in said.text


async def test_what_if_after_a_narrowed_answer_uses_its_findings(chat: Chat) -> None:
    await chat.say(ASK)
    await chat.say("what about gpt-4o?")
    said = await chat.say("how much if we do all of them?")
    followed(said, "estimate_savings")
    scoped = report_of(only(RECORDS, model="gpt-4o"))["findings"]
    titles = {f["title"] for f in scoped}
    assert {f["title"] for f in said.results["estimate_savings"]["findings"]} <= titles


async def test_the_memory_is_the_stored_meta(chat: Chat) -> None:
    first = await chat.say(ASK)
    shown = first.meta["findings_shown"]
    assert [f["title"] for f in shown] == [f["title"] for f in RANKED[: len(shown)]]
    assert first.meta["referenced"] == []
    why = await chat.say("why the second?")
    assert why.meta["referenced"] == [1]
    assert [f["title"] for f in why.meta["findings_shown"]] == [f["title"] for f in shown]
