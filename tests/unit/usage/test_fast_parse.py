"""The fast whole-file parser gives exactly what the careful streaming parser gives: the same
records in the same order and the same rejected rows (line, field, message), on random files
mixing plain rows, odd but valid forms, bad values, blank lines, short and long rows."""

from __future__ import annotations

import csv
import io
import json
from typing import Any

import polars as pl
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

from netra.analysis.frame import frame_from_records
from netra.records.record import FIELDS, REQUIRED_FIELDS, RowError, UsageRecord
from netra.usage.fast_parse import parse_csv_bytes, parse_jsonl_bytes
from netra.usage.parse import iter_csv, iter_jsonl

INTS = [
    *["0", "7", "1200", "999999", "", "-1", "12.0", "12.5", "+3", " 7", "1_000", "abc", "9" * 20],
    *["1000000000000", "5000000000000"],  # at and past MAX_TOKENS
]
FLOATS = ["", "0", "2.5", "1e3", "-1", "inf", "nan", " 2.5", "x", "0.000001", "1e9", "2e9"]
VALUES: dict[str, list[str]] = {
    "timestamp": [
        "2026-11-02T10:00:00Z",
        "2026-11-02T10:00:00.123+02:00",
        "2026-11-02T10:00:00.5-0530",
        "2026-11-02 10:00:00",
        "2026-11-02T10:00:00",
        "2026-11-02t10:00:00z",
        "2026-11-02T10:00:00.1234567Z",
        "2026-11-02T10:00:00+05",
        "2026-11-02",
        "1762077600",
        "1762077600.5",
        "1e13",
        "",
        "yesterday",
        " 2026-11-02T10:00:00Z",
        "9999-12-31T23:59:59-14:00",  # beyond the year 9999 in UTC
        "0001-01-01T00:00:00+05:00",  # before the year 1 in UTC
    ],
    "provider": ["openai", "OpenAI", "anthropic", " anthropic", "", "p" * 513, "prov\x1f", "ñ"],
    "model": ["gpt-4o", "claude-sonnet-4-5", " gpt-4o ", "", "m" * 513, "2.5", "g\x00"],
    "input_tokens": INTS,
    "output_tokens": INTS,
    "cached_input_tokens": [*INTS, "500", "2000"],
    "cache_write_tokens": [*INTS, "300"],
    "cache_write_1h_tokens": ["", "0", "10", "300", "999999", "-3"],
    "requests": ["", "1", "0", "5", "-2", "2.0", "x"],
    "latency_ms": FLOATS,
    "cost_usd": FLOATS,
    "status": ["", "ok", "error", "OK", " timeout", "bogus", "rate_limited"],
    "batch": ["", "true", "False", "YES", "maybe", "1", "0", " y"],
    **{
        name: ["", "u1", " u2 ", "x" * 513, "a,b", 'say "hi"', "1.5", "\u3000pad", "nul\x00"]
        for name in ("feature", "user", "prompt_hash", "request_id", "retry_of", "conversation_id")
    },
}
PLAIN = {name: values[0] for name, values in VALUES.items()}


def careful(parse: Any, text: str) -> tuple[pl.DataFrame, list[RowError]]:
    records: list[UsageRecord] = []
    errors: list[RowError] = []
    for item in parse(io.StringIO(text, newline=""), source="f"):
        (errors if isinstance(item, RowError) else records).append(item)
    return frame_from_records(records), errors


def same(
    fast: tuple[pl.DataFrame, list[RowError]], slow: tuple[pl.DataFrame, list[RowError]]
) -> None:
    assert fast[1] == slow[1]
    assert fast[0].schema == slow[0].schema
    assert fast[0].equals(slow[0]), (fast[0], slow[0])


@st.composite
def csv_files(draw: st.DrawFn) -> str:
    optional = [f for f in FIELDS if f not in REQUIRED_FIELDS]
    columns = list(REQUIRED_FIELDS) + draw(st.lists(st.sampled_from(optional), unique=True))
    if draw(st.booleans()):
        columns.append("region")  # an unknown column: ignored
    columns = draw(st.permutations(columns))
    out = io.StringIO()
    writer = csv.writer(out, lineterminator=draw(st.sampled_from(["\n", "\r\n"])))
    writer.writerow([c.upper() if draw(st.booleans()) else c for c in columns])
    for _ in range(draw(st.integers(0, 25))):
        shape = draw(st.sampled_from(["plain"] * 4 + ["odd", "blank", "space", "short", "long"]))
        if shape == "blank":
            out.write("\n")
            continue
        if shape == "space":
            out.write("   \n")
            continue
        row = [PLAIN.get(c, "eu") for c in columns]
        if shape == "odd":
            for i in draw(st.lists(st.integers(0, len(columns) - 1), max_size=3)):
                row[i] = draw(st.sampled_from(VALUES.get(columns[i], ["eu"])))
        if shape == "short":
            row = row[: draw(st.integers(1, len(row)))]
        if shape == "long":
            row = [*row, "extra"]
        writer.writerow(row)
    return out.getvalue()


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(csv_files())
@example("timestamp,provider,model,input_tokens,output_tokens\n")
@example("")
@example("\n\ntimestamp,provider,model,input_tokens,output_tokens\n" + "2026-11-02,a,b,1,1\n")
@example('timestamp,provider,model,input_tokens,output_tokens,user\n2026-11-02,a,b,1,1,"x\ny"\n')
def test_fast_and_careful_csv_agree(text: str) -> None:
    same(parse_csv_bytes(text.encode(), source="f"), careful(iter_csv, text))


JSON_VALUES: dict[str, list[Any]] = {
    **{name: values for name, values in VALUES.items()},
    "input_tokens": [5, 0, 12.0, 12.5, -1, True, "7", None, [1]],
    "output_tokens": [3, "3", False, None],
    "requests": [1, 3, 0, "2", None, 2.0],
    "batch": [True, False, "yes", 1, None, "maybe"],
    "feature": ["f", 12, 1.5, 1e20, True, {"a": 1}, None, " x "],
    "provider": ["openai", 7, True, None],
    "timestamp": ["2026-11-02T10:00:00Z", 1762077600, 1762077600.5, True, None, "x"],
    "cost_usd": [0.5, "0.5", True, -1, None, 1e-7],
}
JSON_PLAIN: dict[str, Any] = {
    "timestamp": "2026-11-02T10:00:00Z",
    "provider": "openai",
    "model": "gpt-4o",
    "input_tokens": 10,
    "output_tokens": 2,
}


@st.composite
def jsonl_files(draw: st.DrawFn) -> str:
    lines = []
    for _ in range(draw(st.integers(0, 25))):
        shape = draw(st.sampled_from(["plain"] * 4 + ["odd", "blank", "broken", "array"]))
        if shape == "blank":
            lines.append(draw(st.sampled_from(["", "  "])))
        elif shape == "broken":
            lines.append('{"timestamp": ')
        elif shape == "array":
            lines.append("[1, 2]")
        else:
            row = dict(JSON_PLAIN)
            if shape == "odd":
                for name in draw(st.lists(st.sampled_from(sorted(JSON_VALUES)), max_size=3)):
                    row[name] = draw(st.sampled_from(JSON_VALUES[name]))
            lines.append(json.dumps(row))
    return "\n".join(lines) + draw(st.sampled_from(["", "\n"]))


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(jsonl_files())
@example("")
@example(json.dumps({**JSON_PLAIN, "user": 1e20}) + "\n")  # polars writes it 100000...
def test_fast_and_careful_jsonl_agree(text: str) -> None:
    same(parse_jsonl_bytes(text.encode(), source="f"), careful(iter_jsonl, text))


def test_the_fast_path_takes_plain_rows_without_the_careful_parser(monkeypatch: Any) -> None:
    """A clean file never calls the row parser (that is where the time went)."""
    import netra.usage.fast_parse as fast

    def refuse(*_: Any, **__: Any) -> Any:
        raise AssertionError("careful path used")

    monkeypatch.setattr(fast, "_careful_lines", refuse)
    monkeypatch.setattr(fast, "_careful_whole", refuse)
    header = ",".join(FIELDS)
    row = ",".join(PLAIN[f] if f in PLAIN else "" for f in FIELDS)
    frame, errors = parse_csv_bytes(f"{header}\n{row}\n{row}\n".encode())
    assert frame.height == 2 and errors == []


def test_bytes_that_are_not_utf8_reject_their_row_as_the_streamed_reader_does() -> None:
    header = b"timestamp,provider,model,input_tokens,output_tokens,feature\n"
    data = (
        header
        + b"2026-11-02T10:00:00Z,openai,gpt,5,1,ok\n2026-11-02T10:00:00Z,openai,gpt,5,1,a\xffb\n"
    )
    frame, errors = parse_csv_bytes(data, source="f")
    assert frame.height == 1
    assert [(e.line, e.field) for e in errors] == [(3, "feature")]
