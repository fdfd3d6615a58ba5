"""Ingest bookkeeping: what the database would refuse is rejected per row; batches and counts."""

from __future__ import annotations

import math
from dataclasses import replace
from datetime import UTC, datetime

from netra.records.record import RowError, UsageRecord
from netra.usage.ingest import MAX_BIGINT, IngestResult, split_rows, storable

GOOD = UsageRecord(
    timestamp=datetime(2026, 11, 1, tzinfo=UTC),
    provider="openai",
    model="gpt-4o",
    input_tokens=10,
    output_tokens=2,
)


def test_a_sound_record_is_storable() -> None:
    assert storable(GOOD, 3) is None
    assert storable(replace(GOOD, feature="résumé ✓", cost_usd=0.5, latency_ms=12.0), 3) is None


def test_nul_bytes_invalid_text_huge_ints_and_non_finite_numbers_are_rejected() -> None:
    cases = {
        "feature": replace(GOOD, feature="a\x00b"),
        "user": replace(GOOD, user="bad \udcff byte"),
        "input_tokens": replace(GOOD, input_tokens=MAX_BIGINT + 1),
        "cost_usd": replace(GOOD, cost_usd=math.inf),
        "latency_ms": replace(GOOD, latency_ms=math.nan),
    }
    for field, record in cases.items():
        error = storable(record, 9)
        assert error is not None and error.field == field and error.line == 9, field


def test_split_rows_batches_good_rows_and_reports_every_bad_one() -> None:
    items: list[UsageRecord | RowError] = []
    for i in range(1, 26):
        if i % 5 == 0:
            items.append(RowError(i, "model", "missing required field"))
        elif i == 7:
            items.append(replace(GOOD, model="m\x00"))
        else:
            items.append(replace(GOOD, request_id=str(i)))
    result = IngestResult(max_listed=3)
    batches = list(split_rows(items, result, batch_size=4))
    assert [len(b) for b in batches] == [4, 4, 4, 4, 3]
    assert result.rejected_count == 6
    # the list is capped, the count is not: nothing is silently dropped
    assert [e.line for e in result.rejected] == [5, 7, 10]
    body = result.as_dict()
    assert body["rejected_count"] == 6 and body["rejected_truncated"] is True
    assert body["rejected"][1] == {
        "line": 7,
        "field": "model",
        "message": "contains a NUL character",
    }


def test_line_numbers_come_from_the_reader_when_given() -> None:
    result = IngestResult()
    lines = iter([12, 40])
    list(split_rows([replace(GOOD, feature="\x00")] * 2, result, 10, lambda: next(lines)))
    assert [e.line for e in result.rejected] == [12, 40]
