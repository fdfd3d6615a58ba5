"""The demo workload: deterministic, realistic in shape, and labelled."""

from __future__ import annotations

import polars as pl

from netra.analysis.findings import KINDS
from netra.demo.trace_lengths import pairs
from netra.demo.workload import generate


def test_same_seed_same_data_other_seed_other_data() -> None:
    a, la = generate(2000, 3)
    b, lb = generate(2000, 3)
    c, _ = generate(2000, 4)
    assert a.equals(b) and la == lb
    assert not a.equals(c)


def test_multi_feature_multi_provider_and_every_waste_labelled() -> None:
    df, labels = generate(10_000, 9)
    assert df.height == 10_000
    assert df["provider"].n_unique() >= 6 and df["feature"].n_unique() >= 15
    assert df["user"].n_unique() >= 100
    assert df["request_id"].n_unique() == df.height
    assert {w["kind"] for w in labels["waste"]} >= set(KINDS)
    ids = set(df["request_id"].to_list())
    for waste in labels["waste"]:
        assert waste["records"] == len(waste["request_ids"]) > 0
        assert set(waste["request_ids"]) <= ids


def test_token_lengths_come_from_the_traces() -> None:
    df, _ = generate(5000, 2)
    code_in, _ = pairs("code")
    assisted = df.filter(pl.col("feature") == "code-assist")
    assert set(assisted["input_tokens"].to_list()) <= set(code_in)
    _, conv_out = pairs("conv")
    chat = df.filter((pl.col("feature") == "support-chat") & (pl.col("status") == "ok"))
    assert set(chat["output_tokens"].to_list()) <= set(conv_out)


def test_the_served_demo_ends_in_the_week_before_it_is_started() -> None:
    from datetime import UTC, datetime, timedelta

    from netra.demo.workload import moved_to_recent

    df, labels = generate(3000, 5)
    for now in (datetime(2027, 3, 14, 9, tzinfo=UTC), datetime(2031, 1, 2, tzinfo=UTC)):
        moved, meta = moved_to_recent(df, labels, now)
        last = moved["timestamp"].max()
        assert now - timedelta(days=8) < last <= now, (now, last)
        shift = moved["timestamp"].min() - df["timestamp"].min()
        assert shift.days % 7 == 0 and shift.seconds == 0  # weekdays stay weekdays
        assert moved.drop("timestamp").equals(df.drop("timestamp"))
        assert datetime.fromisoformat(meta["period"]["end"]) <= now + timedelta(days=1)
        days = [w["scope"]["day"] for w in meta["waste"] if "day" in w["scope"]]
        assert days and all(
            moved.filter(pl.col("timestamp").dt.date().cast(pl.String) == d).height > 0
            for d in days
        )
    # Started before the workload's own end, it is left where it is.
    kept, _ = moved_to_recent(df, labels, datetime(2026, 1, 1, tzinfo=UTC))
    assert kept.equals(df)
