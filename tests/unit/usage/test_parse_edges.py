"""U16 input edges in record parsing (issue 17 / finding 7): NUL, surrogates, numbers past the
bounds and timestamps that overflow in UTC reject the row, naming the field, never the file."""

from __future__ import annotations

import pytest

from netra.records.record import MAX_COST_USD, RowError, UsageRecord
from netra.usage.parse import iter_csv, iter_jsonl, parse_record, parse_timestamp

GOOD = {
    "timestamp": "2026-11-01T00:00:00Z",
    "provider": "openai",
    "model": "gpt-4o",
    "input_tokens": 10,
    "output_tokens": 2,
}


def _error(**changes: object) -> RowError:
    parsed = parse_record({**GOOD, **changes}, 1)
    assert isinstance(parsed, RowError), parsed
    return parsed


@pytest.mark.parametrize("stamp", ["9999-12-31T23:59:59-14:00", "0001-01-01T00:00:00+05:00"])
def test_a_timestamp_overflowing_in_utc_rejects_the_row(stamp: str) -> None:
    with pytest.raises(ValueError, match="outside the years"):
        parse_timestamp(stamp)
    assert _error(timestamp=stamp).field == "timestamp"
    rows = list(
        iter_csv(
            [
                "timestamp,provider,model,input_tokens,output_tokens\n",
                f"{stamp},openai,gpt-4o,1,1\n",
                "2026-11-01T00:00:00Z,openai,gpt-4o,1,1\n",
            ]
        )
    )
    assert isinstance(rows[0], RowError) and rows[0].field == "timestamp" and rows[0].line == 2
    assert isinstance(rows[1], UsageRecord)


@pytest.mark.parametrize(
    ("field", "value"),
    [
        ("cost_usd", 1e308),
        ("cost_usd", MAX_COST_USD * 1.01),
        ("latency_ms", 1e300),
        ("input_tokens", 2**63),
        ("output_tokens", 10**13),
    ],
)
def test_numbers_past_their_bounds_reject_the_row(field: str, value: float) -> None:
    error = _error(**{field: value})
    assert error.field == field and "must be <=" in error.message


def test_numbers_within_bounds_are_kept() -> None:
    parsed = parse_record({**GOOD, "cost_usd": MAX_COST_USD, "latency_ms": 12.5}, 1)
    assert isinstance(parsed, UsageRecord) and parsed.cost_usd == MAX_COST_USD


@pytest.mark.parametrize("field", ["provider", "model", "feature", "user", "request_id"])
@pytest.mark.parametrize("bad", ["a\x00b", "a\ud800b"])
def test_nul_and_lone_surrogates_are_refused_naming_the_field(field: str, bad: str) -> None:
    error = _error(**{field: bad})
    assert error.field == field
    assert "NUL" in error.message or "surrogate" in error.message


def test_csv_fast_path_does_not_let_nul_or_bad_bytes_through() -> None:
    header = "timestamp,provider,model,input_tokens,output_tokens,feature,extra\n"
    rows = list(
        iter_csv(
            [
                header,
                "2026-11-01T00:00:00Z,openai,gpt-4o,1,1,se\x00arch,\n",
                "2026-11-01T00:00:00Z,open\udcffai,gpt-4o,1,1,,\n",  # a byte that was not UTF-8
                "2026-11-01T00:00:00Z,openai,gpt-4o,1,1,ok,ignored\x00column\n",
                "2026-11-01T00:00:00Z,openai,gpt-4o,1,1e308,,\n",
            ]
        )
    )
    assert [(r.line, r.field) for r in rows if isinstance(r, RowError)] == [
        (2, "feature"),
        (3, "provider"),
        (5, "output_tokens"),
    ]
    [kept] = [r for r in rows if isinstance(r, UsageRecord)]
    assert kept.feature == "ok"  # a NUL in an ignored column harms nothing


def test_jsonl_escapes_are_checked_too() -> None:
    lines = ['{"timestamp": "2026-11-01T00:00:00Z", "provider": "openai", "model": "m\\u0000",'
             ' "input_tokens": 1, "output_tokens": 1}\n']  # fmt: skip
    [row] = list(iter_jsonl(lines))
    assert isinstance(row, RowError) and row.field == "model"
