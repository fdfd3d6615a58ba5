"""``netra demo-data``: a realistic synthetic workload with injected, labelled waste.

Four weeks (2026-10-23 .. 2026-11-20 UTC; ``netra serve --demo`` moves them to the weeks before
it starts) of one company's LLM traffic: 19 features on eight
providers, hundreds of end-users, a diurnal and weekly rhythm, prompt and completion lengths
drawn from the Azure LLM inference trace 2023 (``trace_lengths``); the cast is in
``demo_features``. Most features are clean,
several of them deliberately close to a detector's threshold (short answers on the smallest
tier, a few duplicate prompts, ~1.5 % failures, the same price at two providers). The others
carry one injected waste each, labelled in ``FILE.labels.json``:

  {"seed", "records", "period", "features": {name: {provider, model, waste}},
   "waste": [{"kind", "scope", "description", "records", "request_ids"}]}

``scope`` holds the keys a matching finding must carry with equal values (feature, provider,
model, or day for an anomaly), so precision and recall per finding kind are exact.
"""

from __future__ import annotations

import json
from datetime import date, datetime, timedelta
from pathlib import Path
from typing import Any

import numpy as np
import polars as pl

from netra.analysis.frame import SCHEMA, conform
from netra.demo.features import (
    ANOMALY_FACTOR,
    ANOMALY_FEATURES,
    DAYS,
    FEATURES,
    MISMATCH,
    START,
    Feature,
)
from netra.demo.trace_lengths import pairs
from netra.pricing.catalogue import Catalogue, price_frame

# Share of the day's traffic per UTC hour for interactive features (a working-day curve).
_HOURLY = np.array(
    [2, 1.5, 1, 1, 1, 1.5, 3, 5, 7, 8, 8.5, 8.5, 8, 8.5, 9, 9, 8.5, 7.5, 6, 5, 4.5, 4, 3.5, 2.5]
)


def _counts(total: int) -> list[int]:
    weights = np.array([f.share for f in FEATURES])
    counts = np.floor(weights / weights.sum() * total).astype(int)
    counts[0] += total - counts.sum()
    return [int(c) for c in counts]


def _interactive_times(rng: np.random.Generator, n: int) -> np.ndarray:
    weekday = np.array(
        [1.0 if (START + timedelta(days=d)).weekday() < 5 else 0.6 for d in range(DAYS)]
    )
    days = rng.choice(DAYS, size=n, p=weekday / weekday.sum())
    hours = rng.choice(24, size=n, p=_HOURLY / _HOURLY.sum())
    seconds = days * 86400 + hours * 3600 + rng.uniform(0, 3600, size=n)
    return np.asarray(seconds)


def _nightly_times(rng: np.random.Generator, n: int) -> np.ndarray:
    days = rng.integers(0, DAYS, size=n)
    return np.asarray(days * 86400 + 2 * 3600 + rng.uniform(0, 2 * 3600, size=n))


def _session_times(rng: np.random.Generator, n: int) -> np.ndarray:
    """Review sessions: a few calls a minute apart over the same document."""
    out: list[float] = []
    while len(out) < n:
        start = float(_interactive_times(rng, 1)[0])
        for k in range(int(rng.integers(3, 10))):
            out.append(start + k * float(rng.exponential(50.0)) + k)
    return np.asarray(out[:n])


def _feature_rows(rng: np.random.Generator, feature: Feature, n: int, index: int) -> dict[str, Any]:
    trace_in, trace_out = pairs("code" if feature.trace == "code" else "conv")
    pick = rng.integers(0, len(trace_in), size=n)
    inputs = np.asarray(trace_in)[pick] + feature.input_add
    outputs = np.maximum(1, (np.asarray(trace_out)[pick] * feature.output_scale).astype(int))
    if feature.short_output:
        outputs = rng.integers(1, 9, size=n)
    times = {
        "interactive": _interactive_times,
        "nightly": _nightly_times,
        "sessions": _session_times,
    }[feature.pattern](rng, n)
    cached = np.zeros(n, dtype=np.int64)
    writes = np.zeros(n, dtype=np.int64)
    if feature.cached:
        big = inputs >= 1024
        cached = np.where(big, (inputs * rng.uniform(0.4, 0.8, size=n)).astype(int), 0)
        if feature.provider == "anthropic":
            writes = np.where(big & (rng.random(n) < 0.1), (inputs - cached) // 2, 0)
    status = np.full(n, "ok", dtype=object)
    failed = rng.random(n) < feature.failure_rate
    status[failed] = rng.choice(["timeout", "error", "rate_limited"], size=int(failed.sum()))
    outputs = np.where(failed, (outputs * rng.uniform(0, 0.3, size=n)).astype(int), outputs)
    if feature.pattern == "nightly":
        users: list[str | None] = [None] * n
    else:
        ranks = np.minimum(rng.zipf(1.6, size=n), feature.users)
        users = [f"u-{index:02d}-{r:04d}" for r in ranks]
    hashes = [f"{index:02d}{v:014x}" for v in rng.integers(0, 2**56, size=n)]
    if feature.duplicate_rate:
        popular = [f"{index:02d}faq{k:011x}" for k in range(feature.popular_prompts)]
        dup = np.nonzero(rng.random(n) < feature.duplicate_rate)[0]
        for i in dup:
            hashes[i] = popular[int(rng.integers(0, len(popular)))]
    return {
        "seconds": times,
        "provider": [feature.provider] * n,
        "model": [feature.model] * n,
        "input_tokens": inputs.astype(np.int64),
        "output_tokens": outputs.astype(np.int64),
        "cached_input_tokens": cached,
        "cache_write_tokens": writes,
        "latency_ms": np.round(250 + outputs * rng.uniform(8, 25, size=n), 1),
        "status": status.tolist(),
        "feature": [feature.name] * n,
        "user": users,
        "prompt_hash": hashes,
    }


def generate(records: int, seed: int) -> tuple[pl.DataFrame, dict[str, Any]]:
    """The workload (``frame.SCHEMA`` columns) and its labels."""
    rng = np.random.default_rng(seed)
    frames = []
    for index, (feature, n) in enumerate(zip(FEATURES, _counts(records), strict=True)):
        if n == 0:
            continue
        rows = _feature_rows(rng, feature, n, index)
        frames.append(pl.DataFrame(rows).with_columns(pl.lit(index).alias("_fi")))
    frame = pl.concat(frames, how="vertical_relaxed")
    labels: list[dict[str, Any]] = []
    frame = _inject_anomalies(rng, frame, labels)
    frame = frame.sort("seconds").with_columns(
        (pl.lit(START) + pl.duration(microseconds=(pl.col("seconds") * 1e6).cast(pl.Int64)))
        .dt.replace_time_zone("UTC")
        .cast(SCHEMA["timestamp"])
        .alias("timestamp"),
        pl.format("req-{}-{}", pl.lit(seed), pl.int_range(pl.len())).alias("request_id"),
        pl.lit(False).alias("batch"),
        pl.lit(1).alias("requests"),
        pl.lit(None, pl.String).alias("conversation_id"),
        pl.lit(0).alias("cache_write_1h_tokens"),
    )
    frame = _link_retries(frame)
    frame = _redundant_retries(rng, frame, "slow-summary")
    catalogue = Catalogue()
    frame = _bill(frame, catalogue)
    for feature in FEATURES:
        if feature.waste is None:
            continue
        ids = frame.filter(pl.col("feature") == feature.name)["request_id"]
        if feature.waste == "response_caching":
            ids = _repeat_ids(frame, feature.name)
        if feature.waste == "retry_waste":
            wasted = (
                pl.col("status") != "ok"
                if feature.failure_rate > 0.1
                else pl.col("request_id").str.contains("-retry-")
            )
            ids = frame.filter((pl.col("feature") == feature.name) & wasted)["request_id"]
        values = {
            "feature": feature.name,
            "provider": feature.provider,
            "model": catalogue.resolve(feature.provider, feature.model) or feature.model,
        }
        labels.append(
            {
                "kind": feature.waste,
                "scope": {k: values[k] for k in feature.scope},
                "description": f"{feature.name}: injected {feature.waste}",
                "records": ids.len(),
                "request_ids": ids.to_list(),
            }
        )
    provider, model, factor = MISMATCH
    mismatched = frame.filter((pl.col("provider") == provider) & (pl.col("model") == model))
    labels.append(
        {
            "kind": "cost_mismatch",
            "scope": {"provider": provider, "model": catalogue.resolve(provider, model) or model},
            "description": f"{model} billed at {factor:.0%} of the catalogue price",
            "records": mismatched.height,
            "request_ids": mismatched["request_id"].to_list(),
        }
    )
    for label in labels:  # anomalies were labelled before request ids existed
        if "_day" in label:
            day = label.pop("_day")
            ids = frame.filter(
                (pl.col("feature") == label["scope"]["feature"])
                & (pl.col("timestamp").dt.date() == day)
                & (pl.col("user") == "u-runaway")
            )["request_id"]
            label["records"], label["request_ids"] = ids.len(), ids.to_list()
    out = conform(frame)
    meta = {
        "seed": seed,
        "records": out.height,
        "period": {"start": START.isoformat(), "end": (START + timedelta(days=DAYS)).isoformat()},
        "features": {
            f.name: {"provider": f.provider, "model": f.model, "waste": f.waste} for f in FEATURES
        },
        "waste": labels,
    }
    return out, meta


def moved_to_recent(
    frame: pl.DataFrame, labels: dict[str, Any], now: datetime
) -> tuple[pl.DataFrame, dict[str, Any]]:
    """The workload moved forward by whole weeks (weekdays stay weekdays) so that it ends in the
    week before ``now``: a demo shows recent usage whatever the day it is started."""
    end = START + timedelta(days=DAYS)
    weeks = max(0, (now - end).days // 7)
    shift = timedelta(weeks=weeks)
    moved = frame.with_columns(pl.col("timestamp") + shift)
    meta = json.loads(json.dumps(labels))  # a deep copy of plain JSON
    meta["period"] = {"start": (START + shift).isoformat(), "end": (end + shift).isoformat()}
    for label in meta["waste"]:
        if "day" in label["scope"]:
            day = date.fromisoformat(label["scope"]["day"]) + shift
            label["scope"]["day"] = day.isoformat()
    return moved, meta


def _inject_anomalies(
    rng: np.random.Generator, frame: pl.DataFrame, labels: list[dict[str, Any]]
) -> pl.DataFrame:
    """Move traffic of a feature onto one day, from one runaway client: that day costs about
    ANOMALY_FACTOR times the usual."""
    days = rng.choice(np.arange(7, DAYS - 2), size=len(ANOMALY_FEATURES), replace=False)
    for name, day in zip(ANOMALY_FEATURES, days, strict=True):
        rows = frame.filter(pl.col("feature") == name)
        extra = int(rows.height / DAYS * (ANOMALY_FACTOR - 1))
        if extra <= 0:
            continue
        chosen = rng.choice(rows.height, size=extra, replace=False)
        moved = np.zeros(frame.height, dtype=bool)
        positions = np.nonzero((frame["feature"] == name).to_numpy())[0][chosen]
        moved[positions] = True
        seconds = frame["seconds"].to_numpy().copy()
        seconds[moved] = int(day) * 86400 + rng.uniform(0, 86400, size=extra)
        users = frame["user"].to_list()
        for p in positions:
            users[int(p)] = "u-runaway"
        status = frame["status"].to_numpy().copy()
        status[moved] = "ok"  # a runaway loop that works: not a retry problem
        frame = frame.with_columns(
            pl.Series("seconds", seconds),
            pl.Series("user", users, dtype=pl.String),
            pl.Series("status", status, dtype=pl.String),
        )
        labels.append(
            {
                "kind": "spend_anomaly",
                "scope": {
                    "feature": name,
                    "day": (START + timedelta(days=int(day))).date().isoformat(),
                },
                "description": f"{name}: a runaway client on one day",
                "_day": (START + timedelta(days=int(day))).date(),
            }
        )
    return frame


def _link_retries(frame: pl.DataFrame) -> pl.DataFrame:
    """Each failed call's next call in the same feature by the same user is its retry."""
    keys = ["feature", "user"]
    prev_failed = (pl.col("status") != "ok").shift(1).over(keys, order_by="timestamp")
    prev_id = pl.col("request_id").shift(1).over(keys, order_by="timestamp")
    return frame.with_columns(
        pl.when(prev_failed.fill_null(False)).then(prev_id).otherwise(None).alias("retry_of")
    )


REDUNDANT_SHARE = 0.12


def _redundant_retries(rng: np.random.Generator, frame: pl.DataFrame, name: str) -> pl.DataFrame:
    """Turn a share of a feature's calls into retries, 20-40 s later, of the call before them
    although it succeeded: same user and tokens, ``retry_of`` set, a ``-retry-`` request id."""
    positions = np.nonzero((frame["feature"] == name).to_numpy())[0]
    pairs = positions[: len(positions) // 2 * 2].reshape(-1, 2)
    chosen = pairs[rng.random(len(pairs)) < 2 * REDUNDANT_SHARE]
    first, second = chosen[:, 0], chosen[:, 1]
    columns = {c: frame[c].to_numpy().copy() for c in ("input_tokens", "output_tokens")}
    timestamps = frame["timestamp"].to_numpy().copy()
    status = frame["status"].to_list()
    users = frame["user"].to_list()
    ids = frame["request_id"].to_list()
    retry_of = frame["retry_of"].to_list()
    delay = (rng.uniform(20, 40, size=len(chosen)) * 1e6).astype("timedelta64[us]")
    timestamps[second] = timestamps[first] + delay
    for column in columns.values():
        column[second] = column[first]
    for a, b in zip(first.tolist(), second.tolist(), strict=True):
        status[a] = status[b] = "ok"
        users[b] = users[a]
        retry_of[b] = ids[a]
        ids[b] = f"{ids[a]}-retry-1"
    return frame.with_columns(
        pl.Series("timestamp", timestamps).dt.replace_time_zone("UTC"),
        pl.Series("input_tokens", columns["input_tokens"]),
        pl.Series("output_tokens", columns["output_tokens"]),
        pl.Series("status", status, dtype=pl.String),
        pl.Series("user", users, dtype=pl.String),
        pl.Series("request_id", ids, dtype=pl.String),
        pl.Series("retry_of", retry_of, dtype=pl.String),
    ).sort("timestamp")


def _bill(frame: pl.DataFrame, catalogue: Catalogue) -> pl.DataFrame:
    """cost_usd as billed for the features that report it (the catalogue price, or the
    mismatch factor)."""
    tmp = frame.with_columns(pl.lit(None, dtype=pl.Float64).alias("cost_usd"))
    priced = price_frame(tmp.select([c for c in SCHEMA if c in tmp.columns]), catalogue)
    billed_features = {f.name: f.billed for f in FEATURES if f.billed is not None}
    provider, model, factor = MISMATCH
    multiplier = (
        pl.when((pl.col("provider") == provider) & (pl.col("model") == model))
        .then(pl.lit(factor))
        .otherwise(pl.col("feature").replace_strict(billed_features, default=None))
    )
    return frame.with_columns(
        (priced["catalogue_cost"] * multiplier.cast(pl.Float64)).round(10).alias("cost_usd")
    )


def _repeat_ids(frame: pl.DataFrame, name: str) -> pl.Series:
    rows = frame.filter((pl.col("feature") == name) & (pl.col("status") == "ok")).sort("timestamp")
    previous = pl.col("timestamp").shift(1).over("prompt_hash")
    repeats = rows.filter((pl.col("timestamp") - previous) <= timedelta(hours=24))
    return repeats["request_id"]


def write(frame: pl.DataFrame, labels: dict[str, Any], out: Path) -> Path:
    """Write ``out`` (JSON Lines when it ends in .jsonl/.ndjson, else CSV) and
    ``out.labels.json`` beside it."""
    text = frame.with_columns(
        pl.col("timestamp").dt.to_string("%Y-%m-%dT%H:%M:%S%.3fZ").alias("timestamp")
    )
    if out.suffix.lower() in (".jsonl", ".ndjson"):
        text.write_ndjson(out)
    else:
        text.write_csv(out)
    labels_path = out.with_name(out.name + ".labels.json")
    labels_path.write_text(json.dumps(labels, indent=1))
    return labels_path
