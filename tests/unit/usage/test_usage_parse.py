"""Parsing and validation of usage records (CSV, JSON Lines, JSON API)."""

from __future__ import annotations

import csv
import io
import json
from datetime import UTC, datetime

import pytest
from hypothesis import example, given, settings
from hypothesis import strategies as st

from netra.records.record import FIELDS, RowError, UsageRecord
from netra.usage.parse import iter_csv, iter_jsonl, parse_record, parse_timestamp, sniff_format

HEADER = "timestamp,provider,model,input_tokens,output_tokens,cached_input_tokens,status,batch"


def _csv(*rows: str) -> list[UsageRecord | RowError]:
    return list(iter_csv(io.StringIO("\n".join([HEADER, *rows]) + "\n")))


def test_good_rows_parse_with_defaults() -> None:
    [rec] = _csv("2026-11-01T10:00:00Z,OpenAI,gpt-4o,100,20,,,")
    assert isinstance(rec, UsageRecord)
    assert rec.provider == "openai" and rec.model == "gpt-4o"
    assert rec.timestamp == datetime(2026, 11, 1, 10, tzinfo=UTC)
    assert (rec.cached_input_tokens, rec.status, rec.batch, rec.cost_usd) == (0, "ok", False, None)


@pytest.mark.parametrize(
    ("row", "field", "fragment"),
    [
        (",openai,gpt-4o,1,1,,,", "timestamp", "missing required"),
        ("yesterday,openai,gpt-4o,1,1,,,", "timestamp", "ISO 8601"),
        ("2026-11-01,,gpt-4o,1,1,,,", "provider", "missing required"),
        ("2026-11-01,openai,gpt-4o,-5,1,,,", "input_tokens", ">= 0"),
        ("2026-11-01,openai,gpt-4o,1.5,1,,,", "input_tokens", "integer"),
        ("2026-11-01,openai,gpt-4o,10,1,11,,", "cached_input_tokens", "exceed"),
        ("2026-11-01,openai,gpt-4o,10,1,1,broken,", "status", "unknown status"),
        ("2026-11-01,openai,gpt-4o,10,1,1,ok,maybe", "batch", "true or false"),
        ("1762000000000,openai,gpt-4o,10,1,1,ok,", "timestamp", "milliseconds"),
    ],
)
def test_each_bad_row_names_line_field_and_reason(row: str, field: str, fragment: str) -> None:
    good = "2026-11-01T00:00:00Z,openai,gpt-4o,1,1,,,"
    parsed = _csv(good, row, good)
    assert isinstance(parsed[0], UsageRecord) and isinstance(parsed[2], UsageRecord)
    error = parsed[1]
    assert isinstance(error, RowError)
    assert error.line == 3  # header is line 1
    assert error.field == field
    assert fragment in error.message


def test_timestamp_forms() -> None:
    expected = datetime(2026, 11, 1, 10, 0, tzinfo=UTC)
    assert parse_timestamp("2026-11-01T10:00:00Z") == expected
    assert parse_timestamp("2026-11-01T12:00:00+02:00") == expected
    assert parse_timestamp("2026-11-01 10:00:00") == expected  # no offset: UTC
    assert parse_timestamp("2026-11-01t10:00:00z") == expected
    assert parse_timestamp("2026-11-01T10:00:00.000000000Z") == expected
    assert parse_timestamp(expected.timestamp()) == expected
    assert parse_timestamp(str(int(expected.timestamp()))) == expected
    assert parse_timestamp("1762000000.5").microsecond == 500000


def test_unknown_columns_are_ignored_and_missing_header_column_is_one_error() -> None:
    text = "timestamp,provider,model,input_tokens,output_tokens,org\n2026-11-01,openai,x,1,1,acme\n"
    [rec] = list(iter_csv(io.StringIO(text)))
    assert isinstance(rec, UsageRecord)
    bad = list(iter_csv(io.StringIO("timestamp,provider,input_tokens\n2026-11-01,openai,1\n")))
    assert len(bad) == 1 and isinstance(bad[0], RowError)
    assert (bad[0].line, bad[0].field) == (1, "model")


def test_jsonl_reports_invalid_json_and_keeps_going() -> None:
    good = {
        "timestamp": 1762000000,
        "provider": "anthropic",
        "model": "claude-haiku-4-5",
        "input_tokens": 5,
        "output_tokens": 3,
        "batch": True,
        "cost_usd": 0.1,
    }
    lines = [json.dumps(good), "{not json", "", json.dumps({**good, "output_tokens": -1}), "[1]"]
    parsed = list(iter_jsonl(io.StringIO("\n".join(lines))))
    assert isinstance(parsed[0], UsageRecord) and parsed[0].batch and parsed[0].cost_usd == 0.1
    assert [(e.line, e.field) for e in parsed[1:] if isinstance(e, RowError)] == [
        (2, None),
        (4, "output_tokens"),
        (5, None),
    ]


def test_parse_record_for_the_json_api() -> None:
    err = parse_record({"timestamp": "2026-11-01", "provider": "openai"}, 7)
    assert isinstance(err, RowError) and err.line == 7 and err.field == "model"
    assert isinstance(parse_record("nope", 1), RowError)


def test_sniff_format() -> None:
    assert sniff_format("usage.jsonl", b"") == "jsonl"
    assert sniff_format("usage.csv", b"{") == "csv"
    assert sniff_format(None, b'\xef\xbb\xbf  {"timestamp"') == "jsonl"
    assert sniff_format("upload", b"timestamp,provider") == "csv"


_values = st.one_of(
    st.sampled_from(["", " ", "0", "7", "-1", "1.0", "2.5", "nan", "inf", "ok", "Error", "x"]),
    st.sampled_from(["true", "FALSE", "maybe", "2026-11-01T10:00:00Z", "1762000000", "a" * 600]),
    st.text(max_size=8).filter(lambda t: "\n" not in t and "\r" not in t),
)


_VALID = ["2026-11-01T10:00:00Z", "openai", "gpt-4o", "100", "20", "10", "5", "12.5", "ok"]
_VALID += ["0.01", "feat", "user", "hash", "req", "", "false", "3", "conv-1", "2"]
_rows = st.tuples(*[st.one_of(st.just(v), st.just(v), _values) for v in _VALID]).map(list)


@settings(max_examples=300, deadline=None)
@given(_rows)
@example(  # found by this test: the fast path let an over-long provider through
    ["2026-11-01T10:00:00Z", "a" * 600, "gpt-4o", "100", "20", "10", "5", "12.5", "ok", "0.01",
     "feat", "user", "hash", "req", "", "false", "1", "", "0"]
)  # fmt: skip
def test_csv_fast_path_agrees_with_the_careful_parser(values: list[str]) -> None:
    """A CSV row and the same values as a JSON object must give the same record or error
    field (the CSV reader has a fast path for clean rows)."""
    buffer = io.StringIO()
    writer = csv.writer(buffer)
    writer.writerow(FIELDS)
    writer.writerow(values)
    [from_csv] = list(iter_csv(io.StringIO(buffer.getvalue())))
    from_json = parse_record(dict(zip(FIELDS, values, strict=True)), 2)
    if isinstance(from_json, RowError):
        assert isinstance(from_csv, RowError) and from_csv.field == from_json.field
    else:
        assert from_csv == from_json
