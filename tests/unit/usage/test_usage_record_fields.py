"""The usage record's `requests`, `conversation_id` and `cache_write_1h_tokens` (API.md):
parsed on both CSV paths and from JSON, validated with their field named, and counted by the
summaries (`requests` = calls beside `records` = rows)."""

from __future__ import annotations

import io
from datetime import UTC, datetime

from netra.analysis.breakdowns import summary
from netra.analysis.frame import conform, frame_from_records
from netra.records.record import RowError, UsageRecord
from netra.usage.parse import iter_csv, iter_jsonl, parse_record

HEADER = "timestamp,provider,model,input_tokens,output_tokens,cache_write_tokens,"
HEADER += "cache_write_1h_tokens,requests,conversation_id\n"


def test_csv_reads_the_new_fields_and_defaults_them_when_absent() -> None:
    text = HEADER + "2026-11-01T10:00:00Z,anthropic,claude-sonnet-4-5,900,40,300,100,12,c-1\n"
    text += "2026-11-01T10:00:01Z,openai,gpt-4o,10,1,,,,\n"
    first, second = list(iter_csv(io.StringIO(text)))
    assert isinstance(first, UsageRecord) and isinstance(second, UsageRecord)
    assert (first.requests, first.conversation_id, first.cache_write_1h_tokens) == (12, "c-1", 100)
    assert (second.requests, second.conversation_id, second.cache_write_1h_tokens) == (1, None, 0)


def test_json_and_json_lines_read_the_new_fields() -> None:
    body = {
        "timestamp": 1762000000,
        "provider": "openai",
        "model": "gpt-4o",
        "input_tokens": 5,
        "output_tokens": 1,
        "requests": 3,
        "conversation_id": "thread-9",
    }
    parsed = parse_record(body, 1)
    assert isinstance(parsed, UsageRecord) and parsed.requests == 3
    [line] = list(iter_jsonl(['{"timestamp": 0, "provider": "x", "model": "m", '
                              '"input_tokens": 1, "output_tokens": 1}\n']))  # fmt: skip
    assert isinstance(line, UsageRecord) and line.requests == 1


def test_bad_values_name_their_field() -> None:
    base = {"timestamp": 0, "provider": "p", "model": "m", "input_tokens": 10, "output_tokens": 1}
    cases = [
        ({"requests": 0}, "requests"),
        ({"requests": -2}, "requests"),
        ({"requests": "1.5"}, "requests"),
        ({"cache_write_tokens": 4, "cache_write_1h_tokens": 5}, "cache_write_1h_tokens"),
        ({"cache_write_1h_tokens": 1}, "cache_write_1h_tokens"),
        ({"conversation_id": "c" * 600}, "conversation_id"),
        ({"conversation_id": {"id": 1}}, "conversation_id"),
    ]
    for change, field in cases:
        error = parse_record({**base, **change}, 4)
        assert isinstance(error, RowError) and error.field == field, (change, error)
        if field == "requests":  # the bound it states is the field's own (>= 1), not 0
            assert ">= 1" in error.message and ">= 0" not in error.message, error
    text = HEADER + "2026-11-01T10:00:00Z,openai,gpt-4o,10,1,4,5,1,\n"
    text += "2026-11-01T10:00:00Z,openai,gpt-4o,10,1,4,1,0,\n"
    errors = list(iter_csv(io.StringIO(text)))
    assert [(e.line, e.field) for e in errors if isinstance(e, RowError)] == [
        (2, "cache_write_1h_tokens"),
        (3, "requests"),
    ]


def _record(requests: int, model: str = "gpt-4o") -> UsageRecord:
    return UsageRecord(
        timestamp=datetime(2026, 11, 1, tzinfo=UTC),
        provider="openai",
        model=model,
        input_tokens=1000 * requests,
        output_tokens=10 * requests,
        requests=requests,
        cost_usd=0.5,
    )


def test_summaries_count_calls_beside_rows() -> None:
    frame = frame_from_records([_record(40), _record(2), _record(1, "gpt-4o-mini")])
    groups = {g["key"]: g for g in summary(frame, "model")}
    assert (groups["gpt-4o"]["records"], groups["gpt-4o"]["requests"]) == (2, 42)
    assert (groups["gpt-4o-mini"]["records"], groups["gpt-4o-mini"]["requests"]) == (1, 1)
    [day] = summary(frame, "day")
    assert (day["records"], day["requests"]) == (3, 43)


def test_a_frame_without_the_new_columns_gets_their_defaults() -> None:
    frame = frame_from_records([_record(3)]).drop("requests", "cache_write_1h_tokens")
    back = conform(frame)
    assert back["requests"].to_list() == [1] and back["cache_write_1h_tokens"].to_list() == [0]
