"""The summary split by a second dimension (the dashboard's stacked spend over time)."""

from __future__ import annotations

from datetime import timedelta

import pytest

from netra.analysis.engine import summary
from support.usage_rows import START, calls, frame


def test_each_day_is_split_by_model_and_the_parts_add_up() -> None:
    usage = frame(
        calls(3, model="gpt-4o", cost_usd=1.0, every=timedelta(hours=1)),
        calls(2, model="gpt-4o-mini", cost_usd=0.25, every=timedelta(hours=1)),
        calls(4, model="gpt-4o", cost_usd=0.5, start=START + timedelta(days=1)),
    )
    days = summary(usage, "day", split_by="model")
    assert [d["key"] for d in days] == [
        START.date().isoformat(),
        (START + timedelta(days=1)).date().isoformat(),
    ]
    first, second = days
    assert [(s["key"], s["records"], s["cost_usd"]) for s in first["split"]] == [
        ("gpt-4o", 3, 3.0),
        ("gpt-4o-mini", 2, 0.5),
    ]
    assert [(s["key"], s["cost_usd"]) for s in second["split"]] == [("gpt-4o", 2.0)]
    for day in days:
        assert sum(s["cost_usd"] for s in day["split"]) == pytest.approx(day["cost_usd"])
        assert sum(s["records"] for s in day["split"]) == day["records"]


def test_split_by_feature_of_models() -> None:
    usage = frame(
        calls(2, feature="chat", model="gpt-4o", cost_usd=2.0),
        calls(1, feature="search", model="gpt-4o", cost_usd=1.0),
    )
    [group] = summary(usage, "model", split_by="feature")
    assert group["key"] == "gpt-4o"
    assert {s["key"]: s["cost_usd"] for s in group["split"]} == {"chat": 4.0, "search": 1.0}


@pytest.mark.parametrize(("by", "split"), [("day", "day"), ("model", "model"), ("day", "team")])
def test_a_split_by_the_same_or_an_unknown_dimension_is_refused(by: str, split: str) -> None:
    with pytest.raises(ValueError):
        summary(frame(calls(1)), by, split_by=split)
