"""Finding 3: a rejected-row report stays small whatever the input (cut values, cut messages,
a byte budget), and the total is always told."""

from __future__ import annotations

from netra.records.record import RowError
from netra.usage.ingest import MAX_MESSAGE_CHARS, IngestResult
from netra.usage.parse import MAX_CSV_COLUMNS, iter_csv, parse_timestamp, shown


def test_values_are_quoted_cut() -> None:
    assert shown("abc") == "'abc'"
    long = shown("y" * 10_000)
    assert long.startswith("'yyy") and long.endswith("(10000 characters)") and len(long) < 100
    try:
        parse_timestamp("z" * 50_000)
    except ValueError as exc:
        assert len(str(exc)) < 200 and "50000 characters" in str(exc)
    else:
        raise AssertionError("accepted")


def test_the_report_is_bounded_in_rows_and_bytes_but_counts_everything() -> None:
    result = IngestResult(max_listed=1000, max_report_bytes=10_000)
    for line in range(5000):
        result.reject(RowError(line, "f" * 5000, "m" * 100_000))
    body = result.as_dict()
    assert body["rejected_count"] == 5000 and body["rejected_truncated"]
    assert all(len(r["message"]) <= MAX_MESSAGE_CHARS for r in body["rejected"])
    assert sum(len(r["message"]) + len(r["field"]) for r in body["rejected"]) <= 10_000 + 500


def test_a_header_wider_than_the_cap_is_refused_on_line_1() -> None:
    header = "timestamp,provider,model,input_tokens,output_tokens," + ",".join(
        ["x"] * MAX_CSV_COLUMNS
    )
    [error] = list(iter_csv([header + "\n", "1,2,3\n"], source="wide.csv"))
    assert isinstance(error, RowError)
    assert error.line == 1 and f"at most {MAX_CSV_COLUMNS}" in error.message
