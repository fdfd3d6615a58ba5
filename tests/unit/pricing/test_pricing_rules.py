"""Prices that match the bill: per-call tiers on aggregated rows, one-hour cache writes, the
published batch discount, and the prices file over the catalogue."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from pathlib import Path

import polars as pl
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from netra.analysis.frame import conform
from netra.pricing.catalogue import Catalogue, price_frame
from netra.pricing.lookup import normalize_provider
from netra.pricing.overrides import PriceOverrides, PricesFileError, load_prices_file

AT = datetime(2026, 11, 3, 12, tzinfo=UTC)
TIER = 200_000  # claude-sonnet-4-5 and gemini-2.5-pro long-context threshold
NO_FILE = PriceOverrides()


def _rows(rows: list[dict[str, object]]) -> pl.DataFrame:
    return conform(pl.DataFrame(rows, infer_schema_length=None))


@st.composite
def same_tier_calls(draw: st.DrawFn) -> tuple[str, str, list[dict[str, int]]]:
    """Calls of one model whose prompts are all on the same side of the long-context
    threshold, as a provider's rollup split by tier (Anthropic's ``context_window``) gives."""
    provider, model = draw(
        st.sampled_from(
            [
                ("anthropic", "claude-sonnet-4-5"),
                ("google", "gemini-2.5-pro"),
                ("openai", "gpt-4o"),
                ("anthropic", "claude-haiku-4-5"),
            ]
        )
    )
    long = draw(st.booleans())
    low, high = (TIER + 1, 2 * TIER) if long else (1, TIER)
    out = []
    for _ in range(draw(st.integers(1, 12))):
        inp = draw(st.integers(low, high))
        cached = draw(st.integers(0, inp))
        writes = draw(st.integers(0, inp - cached))
        out.append(
            {
                "input_tokens": inp,
                "cached_input_tokens": cached,
                "cache_write_tokens": writes,
                "cache_write_1h_tokens": draw(st.integers(0, writes)),
                "output_tokens": draw(st.integers(0, 20_000)),
            }
        )
    return provider, model, out


@settings(max_examples=150, deadline=None)
@given(same_tier_calls(), st.booleans())
def test_an_aggregated_row_costs_what_its_calls_cost_one_by_one(
    case: tuple[str, str, list[dict[str, int]]], batch: bool
) -> None:
    provider, model, calls = case
    base = {"timestamp": AT, "provider": provider, "model": model, "batch": batch}
    catalogue = Catalogue(overrides=NO_FILE)
    one_by_one = price_frame(_rows([{**base, **c} for c in calls]), catalogue)
    total = {k: sum(c[k] for c in calls) for k in calls[0]}
    rolled = price_frame(_rows([{**base, **total, "requests": len(calls)}]), catalogue)
    expected = float(one_by_one["catalogue_cost"].sum())
    assert rolled["catalogue_cost"][0] == pytest.approx(expected, rel=1e-9, abs=1e-12)
    # The scalar twin agrees with the vectorised path.
    rates = catalogue.rates(provider, rolled["model_n"][0], AT, batch=batch)
    assert rates is not None
    scalar = rates.cost(
        total["input_tokens"],
        total["output_tokens"],
        total["cached_input_tokens"],
        total["cache_write_tokens"],
        writes_1h=total["cache_write_1h_tokens"],
        requests=len(calls),
    )
    assert scalar == pytest.approx(expected, rel=1e-9, abs=1e-12)


def test_the_tier_is_decided_by_the_average_call_not_the_row_total() -> None:
    """A daily row of 100 calls of 10k tokens is 1M tokens in total, but no call is long."""
    catalogue = Catalogue(overrides=NO_FILE)
    row = {"timestamp": AT, "provider": "anthropic", "model": "claude-sonnet-4-5"}
    day = {**row, "input_tokens": 1_000_000, "output_tokens": 0, "requests": 100}
    priced = price_frame(_rows([day, {**day, "requests": 1}]), catalogue)
    assert priced["catalogue_cost"][0] == pytest.approx(1_000_000 * 3e-6)  # base $3/MTok
    assert priced["catalogue_cost"][1] == pytest.approx(1_000_000 * 6e-6)  # one long call


def test_one_hour_cache_writes_cost_twice_the_input_price_on_claude() -> None:
    catalogue = Catalogue(overrides=NO_FILE)
    base = {"timestamp": AT, "input_tokens": 10_000, "output_tokens": 0}
    rows = [
        {
            **base,
            "provider": "anthropic",
            "model": "claude-sonnet-4-5",
            "cache_write_tokens": 10_000,
        },
        {
            **base,
            "provider": "anthropic",
            "model": "claude-sonnet-4-5",
            "cache_write_tokens": 10_000,
            "cache_write_1h_tokens": 10_000,
        },
        {
            **base,
            "provider": "openai",
            "model": "gpt-4o",
            "cache_write_tokens": 10_000,
            "cache_write_1h_tokens": 10_000,
        },
    ]
    cost = price_frame(_rows(rows), catalogue)["catalogue_cost"]
    assert cost[0] == pytest.approx(10_000 * 3.75e-6)  # five minutes: 1.25x
    assert cost[1] == pytest.approx(10_000 * 6e-6)  # one hour: 2x $3
    assert cost[2] == pytest.approx(10_000 * 2.5e-6)  # no one-hour price: the write price


@pytest.mark.parametrize(
    ("provider", "model"),
    [("openai", "gpt-4o"), ("anthropic", "claude-sonnet-4-5"), ("google", "gemini-2.5-flash")],
)
def test_batch_without_a_catalogue_batch_price_gets_the_published_half_price(
    provider: str, model: str
) -> None:
    """Before the catalogue's batch prices start (it has them from late 2026 only), a batch
    call costs the provider's published 50 %; from then on the catalogue's own price."""
    catalogue = Catalogue(overrides=NO_FILE)
    key = (provider, catalogue.resolve(provider, model))
    row = {"provider": provider, "model": model, "input_tokens": 5_000, "output_tokens": 500}
    rows = [{**row, "timestamp": AT}, {**row, "timestamp": AT, "batch": True}]
    cost = price_frame(_rows(rows), catalogue)["catalogue_cost"]
    assert cost[1] == pytest.approx(cost[0] / 2)
    assert key not in catalogue.batch_assumed  # the catalogue's own batch price
    early = AT - timedelta(days=300)
    rows = [{**row, "timestamp": early}, {**row, "timestamp": early, "batch": True}]
    cost = price_frame(_rows(rows), catalogue)["catalogue_cost"]
    assert cost[1] == pytest.approx(cost[0] / 2)
    assert key in catalogue.batch_assumed


def test_batch_elsewhere_keeps_the_interactive_price() -> None:
    catalogue = Catalogue(overrides=NO_FILE)
    row = {"timestamp": AT, "provider": "mistral", "model": "mistral-large-latest"}
    rows = [{**row, "input_tokens": 5_000, "output_tokens": 500, "batch": b} for b in (False, True)]
    cost = price_frame(_rows(rows), catalogue)["catalogue_cost"]
    assert cost[1] == pytest.approx(cost[0])
    assert not catalogue.batch_assumed


def _load(path: Path) -> PriceOverrides:
    catalogue = Catalogue(overrides=NO_FILE)
    return load_prices_file(
        path,
        normalize=normalize_provider,
        resolve=lambda p, m: catalogue.resolve(p, m),
    )


def test_a_prices_file_overrides_the_catalogue_from_its_date(tmp_path: Path) -> None:
    path = tmp_path / "prices.toml"
    path.write_text(
        """
[[prices]]
provider = "openai"
model = "gpt-4o-2024-08-06"   # an alias: resolves to the catalogue's gpt-4o
from = 2026-11-04
input_mtok = 1.0
output_mtok = 4.0

[[prices]]
provider = "acme"
model = "House-Model"
input_mtok = 0.5
output_mtok = 1.5
cache_read_mtok = 0.05
"""
    )
    catalogue = Catalogue(overrides=_load(path))
    base = {"provider": "openai", "model": "gpt-4o", "input_tokens": 1_000_000, "output_tokens": 0}
    rows = [
        {**base, "timestamp": AT},  # the day before the entry: the catalogue
        {**base, "timestamp": AT + timedelta(days=1)},
        {**base, "timestamp": AT + timedelta(days=1), "batch": True},  # published discount
        {
            "timestamp": AT,
            "provider": "acme",
            "model": "house-model",
            "input_tokens": 1_000_000,
            "cached_input_tokens": 500_000,
            "output_tokens": 1_000_000,
        },
    ]
    priced = price_frame(_rows(rows), catalogue)
    assert priced["catalogue_cost"].to_list() == pytest.approx([2.5, 1.0, 0.5, 0.25 + 0.025 + 1.5])
    assert priced["model_n"][3] == "house-model"
    assert ("acme", "house-model") in catalogue.overridden


def test_a_json_prices_file_with_a_batch_entry(tmp_path: Path) -> None:
    path = tmp_path / "prices.json"
    entries = [
        {"provider": "openai", "model": "gpt-4o", "input_mtok": 2, "output_mtok": 8},
        {
            "provider": "openai",
            "model": "gpt-4o",
            "batch": True,
            "input_mtok": 0.2,
            "output_mtok": 0.8,
        },
    ]
    path.write_text(json.dumps({"prices": entries}))
    catalogue = Catalogue(overrides=_load(path))
    row = {"timestamp": AT, "provider": "openai", "model": "gpt-4o", "input_tokens": 1_000_000}
    rows = [{**row, "output_tokens": 0, "batch": b} for b in (False, True)]
    assert price_frame(_rows(rows), catalogue)["catalogue_cost"].to_list() == pytest.approx(
        [2.0, 0.2]
    )
    assert not catalogue.batch_assumed


_OK = {"provider": "openai", "model": "x", "input_mtok": 1, "output_mtok": 1}


def _doc(**changes: object) -> str:
    entry = {k: v for k, v in {**_OK, **changes}.items() if v is not None}
    return json.dumps({"prices": [entry]})


@pytest.mark.parametrize(
    ("text", "message"),
    [
        (_doc(output_mtok=None), "entry 1: missing required field 'output_mtok'"),
        (_doc(input_mtok=-1), "entry 1: field 'input_mtok' must be a number >= 0"),
        (_doc(form="2025-01-01"), "entry 1: unknown field 'form'"),
        (_doc(**{"from": "01/02/2025"}), "field 'from' must be a date"),
        ('{"price": []}', "expected a top-level 'prices' list"),
        ("{nope", "not valid JSON"),
    ],
)
def test_a_bad_prices_file_is_refused_naming_entry_and_field(
    tmp_path: Path, text: str, message: str
) -> None:
    path = tmp_path / "prices.json"
    path.write_text(text)
    with pytest.raises(PricesFileError) as caught:
        _load(path)
    assert message in str(caught.value) and str(path) in str(caught.value)


def test_the_setting_names_the_default_prices_file(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    path = tmp_path / "prices.json"
    path.write_text(
        json.dumps(
            {"prices": [{"provider": "acme", "model": "m1", "input_mtok": 1, "output_mtok": 2}]}
        )
    )
    monkeypatch.setenv("NETRA_PRICES_FILE", str(path))
    assert Catalogue().resolve("acme", "M1") == "m1"
    monkeypatch.delenv("NETRA_PRICES_FILE")
    assert Catalogue().resolve("acme", "M1") is None


def test_check_config_refuses_a_bad_prices_file(tmp_path: Path) -> None:
    """A prices file that cannot be used stops start-up and check-config in any environment,
    with the file, entry and field named (not the first analysis, much later)."""
    import subprocess
    import sys

    path = tmp_path / "prices.json"
    path.write_text(_doc(input_mtok="cheap"))
    env = {
        "PATH": "/usr/bin:/bin",
        "NETRA_ENV": "development",
        "NETRA_DATA_DIR": str(tmp_path),
        "NETRA_PRICES_FILE": str(path),
    }
    bad = subprocess.run(
        [sys.executable, "-m", "netra", "check-config"], env=env, capture_output=True, text=True
    )
    assert bad.returncode == 2
    assert f"NETRA_PRICES_FILE: {path}: prices entry 1: field 'input_mtok'" in bad.stdout
    path.write_text(_doc())
    good = subprocess.run(
        [sys.executable, "-m", "netra", "check-config"], env=env, capture_output=True, text=True
    )
    assert good.returncode == 0, good.stdout + good.stderr
    missing = {**env, "NETRA_PRICES_FILE": str(tmp_path / "nope.toml")}
    gone = subprocess.run(
        [sys.executable, "-m", "netra", "check-config"], env=missing, capture_output=True, text=True
    )
    assert gone.returncode == 2 and "cannot read the prices file" in gone.stdout


def test_the_report_says_which_rules_beyond_the_catalogue_priced_it(tmp_path: Path) -> None:
    from netra.analysis.engine import analyze

    path = tmp_path / "prices.json"
    entry = {"provider": "acme", "model": "m1", "input_mtok": 1, "output_mtok": 2}
    path.write_text(json.dumps({"prices": [entry]}))
    early = AT - timedelta(days=300)  # before the catalogue's batch prices
    base = {"input_tokens": 1000, "output_tokens": 10}
    rows = [
        {**base, "timestamp": early, "provider": "openai", "model": "gpt-4o", "batch": True},
        {**base, "timestamp": early, "provider": "openai", "model": "gpt-4o-mini"},
        {**base, "timestamp": AT, "provider": "acme", "model": "m1", "requests": 5},
        {
            **base,
            "timestamp": AT,
            "provider": "anthropic",
            "model": "claude-sonnet-4-5",
            "cache_write_tokens": 500,
            "cache_write_1h_tokens": 500,
        },
    ]
    catalogue = Catalogue(overrides=_load(path))
    catalogue.batch_assumed.add(("openai", "gpt-4o-mini"))  # learned elsewhere: not this report
    report = analyze(_rows(rows), catalogue=catalogue)
    notes = "\n".join(report["pricing_notes"])
    assert "gpt-4o (openai) are priced at openai's published batch discount (50% off)" in notes
    assert "gpt-4o-mini" not in notes
    assert f"m1 (acme) come from the prices file {path}" in notes
    assert "500 cache-write tokens with a one-hour lifetime" in notes
    assert "1 of 4 rows are aggregated" in notes
    assert report["requests"] == 8 and report["records"] == 4
