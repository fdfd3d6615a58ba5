"""``netra analyze`` reads netra CSV and JSON Lines files whole with the fast parser: the same
frame, rejected rows and notes as the streamed usage sources give; other sources stream."""

from __future__ import annotations

import io
import json
from pathlib import Path

import polars as pl
import pytest

from netra.analysis.frame import frame_from_records
from netra.records.record import RowError, UsageRecord
from netra.usage.fast_files import read_netra_file
from netra.usage.sources import UsageStream

CSV = (
    "timestamp,provider,model,input_tokens,output_tokens,region,conversation_id\n"
    "2026-11-02T10:00:00Z,openai,gpt-4o,100,10,eu,c1\n"
    "2026-11-02T10:01:00Z,openai,gpt-4o,-5,10,eu,c1\n"
    "\n"
    "1762077600,anthropic,claude-sonnet-4-5,12.0,3,us,\n"
)
ROWS = [
    {"timestamp": "2026-11-02T10:00:00Z", "provider": "openai", "model": "gpt-4o",
     "input_tokens": 100, "output_tokens": 10, "team": "x"},
    {"timestamp": "2026-11-02T10:00:00Z", "provider": "openai", "model": "gpt-4o",
     "input_tokens": True, "output_tokens": 10, "note": 'has "fake": key'},
]  # fmt: skip
JSONL = "\n".join(json.dumps(r) for r in ROWS) + "\n"


def streamed(text: str, name: str) -> tuple[pl.DataFrame, list[RowError], list[str]]:
    chunks: list[bytes | None] = [text.encode()]
    stream = UsageStream(lambda: chunks.pop() if chunks else None, filename=name)
    records: list[UsageRecord] = []
    errors: list[RowError] = []
    for item in stream:
        (errors if isinstance(item, RowError) else records).append(item)  # type: ignore[arg-type]
    return frame_from_records(records), errors, stream.notes.ignored_fields


@pytest.mark.parametrize(("text", "name"), [(CSV, "usage.csv"), (JSONL, "usage.jsonl")])
def test_the_fast_read_equals_the_streamed_read(text: str, name: str) -> None:
    fast = read_netra_file(text.encode(), filename=name)
    assert fast is not None and fast.notes.source == "netra"
    frame, errors, ignored = streamed(text, name)
    assert fast.frame.equals(frame) and fast.errors == errors
    assert fast.notes.ignored_fields == ignored
    assert fast.errors  # the bad rows were named


def test_other_sources_and_json_documents_are_streamed() -> None:
    openai = io.StringIO()
    openai.write(json.dumps({"object": "page", "data": []}))
    assert read_netra_file(openai.getvalue().encode(), filename="usage.json") is None
    assert read_netra_file(b"[" + JSONL.encode() + b"]", filename="usage.json") is None
    assert read_netra_file(CSV.encode(), filename="usage.csv", source="litellm") is None


def test_analyze_reads_a_netra_file_fast(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    from netra.reports.cli import load_files

    path = tmp_path / "usage.csv"
    path.write_text(CSV)
    frame, rejected = load_files([path])
    assert frame.height == 2 and rejected == 1
    err = capsys.readouterr().err
    assert f"{path}:3: input_tokens: must be >= 0" in err
    assert f"{path}: read as netra; ignored fields: region" in err
