"""Prices against the genai-prices catalogue itself (``calc_price``), cache reads included."""

from __future__ import annotations

from datetime import UTC, datetime

import polars as pl
import pytest
from genai_prices import Usage, calc_price

from netra.pricing.catalogue import Catalogue, normalize_provider, price_frame
from support.usage_rows import calls, frame

AT = datetime(2026, 11, 3, 12, tzinfo=UTC)

CASES = [
    # provider, catalogue provider id, model, input, cached, writes, output
    ("openai", "openai", "gpt-4o", 12_000, 8_000, 0, 700),
    ("openai", "openai", "gpt-4o-2024-08-06", 5_000, 0, 0, 50),  # alias -> gpt-4o
    ("openai", "openai", "gpt-4o-mini", 3_000, 1_024, 0, 120),
    ("anthropic", "anthropic", "claude-sonnet-4-5", 9_000, 6_000, 2_000, 400),
    ("anthropic", "anthropic", "claude-sonnet-4-5", 250_000, 100_000, 0, 900),  # long context
    ("anthropic", "anthropic", "claude-haiku-4-5", 4_000, 3_000, 500, 80),
    ("google", "google", "gemini-2.5-pro", 210_000, 0, 0, 1_000),  # long context tier
    ("google", "google", "gemini-2.5-flash", 2_000, 1_000, 0, 300),
    ("mistral", "mistral", "mistral-large-latest", 2_000, 500, 0, 100),  # no cache price
    ("vertex", "google", "gemini-2.5-flash", 1_500, 0, 0, 40),  # provider alias
    ("bedrock", "aws", "anthropic.claude-sonnet-4-5-20250929-v1:0", 3_000, 1_000, 0, 100),
]


@pytest.mark.parametrize(
    ("provider", "catalogue_id", "model", "inp", "cached", "writes", "out"), CASES
)
def test_price_matches_the_catalogue(
    provider: str, catalogue_id: str, model: str, inp: int, cached: int, writes: int, out: int
) -> None:
    expected = calc_price(
        Usage(
            input_tokens=inp,
            cache_read_tokens=cached,
            cache_write_tokens=writes,
            output_tokens=out,
        ),
        model,
        provider_id=catalogue_id,
        genai_request_timestamp=AT,
    ).total_price
    df = frame(
        calls(
            1,
            provider=provider,
            model=model,
            start=AT,
            input_tokens=inp,
            output_tokens=out,
            cached_input_tokens=cached,
            cache_write_tokens=writes,
        )
    )
    priced = price_frame(df, Catalogue())
    assert priced["cost"][0] == pytest.approx(float(expected), rel=1e-9)
    rates = Catalogue().rates(normalize_provider(provider), priced["model_n"][0], AT)
    assert rates is not None
    assert rates.cost(inp, out, cached, writes) == pytest.approx(float(expected), rel=1e-9)


def test_known_list_prices() -> None:
    """A few prices a reader can check on the providers' pages (gpt-4o $2.50 in, $1.25 cached
    in; gpt-4o-mini $0.60 out; claude-sonnet-4-5 $0.30 cached in, per million tokens)."""
    df = frame(
        calls(
            1,
            model="gpt-4o",
            start=AT,
            input_tokens=1_000_000,
            output_tokens=0,
            cached_input_tokens=500_000,
        ),
        calls(1, model="gpt-4o-mini", start=AT, input_tokens=0, output_tokens=1_000_000),
        calls(
            1,
            provider="anthropic",
            model="claude-sonnet-4-5",
            start=AT,
            input_tokens=100_000,
            output_tokens=0,
            cached_input_tokens=100_000,
        ),
    )
    costs = price_frame(df, Catalogue())["cost"].to_list()
    assert costs == pytest.approx([1.25 + 0.625, 0.60, 0.03])


def test_batch_price_is_the_catalogue_batch_variant() -> None:
    df = frame(
        calls(
            1,
            model="gpt-4o-mini",
            start=AT,
            input_tokens=1_000_000,
            output_tokens=1_000_000,
            batch=True,
        )
    )
    assert price_frame(df, Catalogue())["cost"][0] == pytest.approx(0.075 + 0.30)


def test_alias_normalised_and_unknown_model_unpriced_not_zero() -> None:
    df = frame(
        calls(3, model="gpt-4o-2024-08-06", start=AT),
        calls(2, provider="selfhosted", model="acme-1", start=AT),
        calls(1, provider="openai", model="no-such-model", start=AT, cost_usd=0.5),
    )
    priced = price_frame(df, Catalogue())
    assert set(priced["model_n"].head(3)) == {"gpt-4o"}
    unpriced = priced.filter(pl.col("provider") == "selfhosted")
    assert unpriced["cost"].null_count() == 2 and not unpriced["priced"].any()
    billed = priced.filter(pl.col("model") == "no-such-model")
    assert billed["cost"][0] == 0.5 and billed["catalogue_cost"][0] is None


def test_price_at_the_record_date() -> None:
    """A price change in the catalogue applies from its date on (claude-sonnet-4-6 in March)."""
    catalogue = Catalogue()
    info = catalogue.model_info("anthropic", "claude-sonnet-4-6")
    assert info is not None and not isinstance(info.prices, type(None))
    before = datetime(2026, 3, 1, tzinfo=UTC)
    after = datetime(2026, 4, 1, tzinfo=UTC)
    for at in (before, after):
        df = frame(
            calls(
                1,
                provider="anthropic",
                model="claude-sonnet-4-6",
                start=at,
                input_tokens=300_000,
                output_tokens=10,
            )
        )
        expected = calc_price(
            Usage(input_tokens=300_000, output_tokens=10),
            "claude-sonnet-4-6",
            provider_id="anthropic",
            genai_request_timestamp=at,
        ).total_price
        assert price_frame(df, catalogue)["cost"][0] == pytest.approx(float(expected))
