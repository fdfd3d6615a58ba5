"""U11: every documented source is recognised from its CSV header or JSON keys, in every
layout; cost-only exports are refused naming the usage export to send; an unknown layout is
refused naming what was expected; ``--source`` forces a source and checks it."""

from __future__ import annotations

import pytest

from netra.core.errors import BadInput
from netra.records.record import RowError, UsageRecord
from netra.usage.sources import SOURCE_NAMES, UsageStream
from netra.usage.sources.framing import sniff_layout
from support import usage_exports as ux


def read(body: bytes, name: str = "f", source: str = "auto", chunk: int = 4096) -> UsageStream:
    parts = iter([body[i : i + chunk] for i in range(0, len(body), chunk)])
    stream = UsageStream(lambda: next(parts, None), filename=name, source=source)
    stream.rows = list(stream)  # type: ignore[attr-defined]
    return stream


@pytest.mark.parametrize(("build", "layout"), ux.ALL, ids=lambda v: getattr(v, "__name__", v))
def test_every_source_and_layout_is_recognised(build: ux.Builder, layout: str) -> None:
    export = build(40, 3, layout)
    stream = read(export.body, export.filename)
    assert stream.notes.source == export.source
    assert stream.notes.ignored_fields == export.extra_columns


@pytest.mark.parametrize(("build", "layout"), ux.ALL, ids=lambda v: getattr(v, "__name__", v))
def test_forcing_the_right_source_reads_the_same(build: ux.Builder, layout: str) -> None:
    export = build(20, 4, layout)
    auto, forced = read(export.body), read(export.body, source=export.source)
    assert forced.rows == auto.rows  # type: ignore[attr-defined]


def test_forcing_the_wrong_source_names_what_it_expects() -> None:
    export = ux.openrouter(5, 1)
    with pytest.raises(BadInput) as refused:
        read(export.body, "activity.csv", source="litellm")
    assert "not a litellm file" in refused.value.message
    assert "startTime" in refused.value.message and "activity.csv" in refused.value.message


def test_an_unknown_layout_names_every_expected_source() -> None:
    with pytest.raises(BadInput) as refused:
        read(b"when,who,what\n1,2,3\n", "mystery.csv")
    message = refused.value.message
    assert "mystery.csv" in message and "when, who, what" in message
    for name in SOURCE_NAMES[1:]:
        assert name in message
    assert refused.value.details and set(refused.value.details["expected"]) == set(SOURCE_NAMES[1:])
    with pytest.raises(BadInput):
        read(b'{"foo": 1, "bar": 2}\n', "x.jsonl")
    with pytest.raises(BadInput):
        read(b'[{"foo": 1}]', "x.json")


@pytest.mark.parametrize(
    ("body", "hint"),
    [
        (ux.openai_costs(), "/v1/organization/usage/completions"),
        (
            b"start_time,end_time,start_time_iso,end_time_iso,amount_value,amount_currency,"
            b"line_item,project_id,organization_id,organization_name\n"
            b"1759622400,1759708800,2025-10-05T00:00:00+00:00,2025-10-06T00:00:00+00:00,"
            b"0.89,usd,,,org-1,Personal\n",
            "Export",
        ),
        (ux.anthropic_costs(), "/v1/organizations/usage_report/messages"),
    ],
)
def test_cost_only_exports_are_refused_naming_the_usage_export(body: bytes, hint: str) -> None:
    with pytest.raises(BadInput) as refused:
        read(body, "costs")
    assert "no token counts" in refused.value.message and hint in refused.value.message


def test_an_unknown_source_name_is_refused() -> None:
    with pytest.raises(BadInput) as refused:
        UsageStream(lambda: None, source="datadog")
    assert "auto" in refused.value.message and "openrouter" in refused.value.message


def test_layout_is_sniffed_from_the_content() -> None:
    assert sniff_layout("a.csv", b"timestamp,provider\n") == "csv"
    assert sniff_layout("a.json", b'  [{"a": 1}') == "json"
    assert sniff_layout("a.json", b'{"a": 1}\n{"a": 2}\n') == "jsonl"
    assert sniff_layout("a.json", b'{\n  "object": "page",\n') == "json"
    assert sniff_layout(None, b'\xef\xbb\xbf{"a": 1}\n{"a": 2}') == "jsonl"
    assert sniff_layout(None, b'{"records": [{"a": 1}]}\n') == "json"  # one document


def test_a_json_document_is_read_item_by_item_whatever_the_chunking() -> None:
    export = ux.openai_usage(60, 2, "json")
    whole, tiny = read(export.body, chunk=1 << 20), read(export.body, chunk=7)
    assert whole.rows == tiny.rows  # type: ignore[attr-defined]
    assert all(isinstance(r, UsageRecord) for r in whole.rows)  # type: ignore[attr-defined]


def test_broken_json_is_a_client_error_not_a_crash() -> None:
    with pytest.raises(BadInput):
        read(b'[{"timestamp": 0, "provider": "openai", "model": "m", "input_tokens": 1, '
             b'"output_tokens": 1}, {"oops": ', "x.json")  # fmt: skip
    stream = read(b'{"timestamp": 0, "provider": "p", "model": "m", "input_tokens": 1, '
                  b'"output_tokens": 1}\nnot json\n', "x.jsonl")  # fmt: skip
    assert [type(r) for r in stream.rows] == [UsageRecord, RowError]  # type: ignore[attr-defined]
