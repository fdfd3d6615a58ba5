"""An upload read chunk by chunk on the fast parser gives exactly what the careful streamed read
(``UsageStream``) gives: the same records in the same order, the same rejected rows (line,
field, message) and the same notes, on random files with bad rows, blank lines, short and long
rows, values quoted across lines, bytes that are not UTF-8 and fields over the csv module's
limit, cut into chunks at random sizes."""

from __future__ import annotations

import csv
import json
from collections.abc import Iterator
from typing import Any
from unittest.mock import patch

import polars as pl
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st
from test_fast_parse import JSON_PLAIN, csv_files, jsonl_files

import netra.usage.upload_parse as upload_parse
from netra.analysis.frame import frame_from_records
from netra.core.errors import BadInput
from netra.records.record import RowError
from netra.usage.sources import UsageStream
from netra.usage.upload_parse import FastUpload, Guarded, parsed_upload

FIELD_LIMIT = 300  # the csv module's field limit during these tests (default 128 KiB)
HEADER = "timestamp,provider,model,input_tokens,output_tokens,user"
ROW = "2026-11-02T10:00:00Z,openai,gpt-4o,10,2,u"


def reader(data: bytes, piece: int) -> Any:
    pieces = [data[i : i + piece] for i in range(0, len(data), piece)]
    pieces.reverse()
    return lambda: pieces.pop() if pieces else None


def collect(rows: Iterator[Any]) -> tuple[pl.DataFrame, list[RowError]]:
    """(every record, in order, as one frame; the rejected rows)."""
    parts = [frame_from_records([])]
    errors: list[RowError] = []
    for item in rows:
        if isinstance(item, RowError):
            errors.append(item)
        else:
            parts.append(item if isinstance(item, pl.DataFrame) else frame_from_records([item]))
    return pl.concat(parts), errors


def read(stream: Guarded) -> tuple[Any, ...]:
    """What a read gives: its records, rejected rows and notes, or the file's refusal."""
    try:
        frame, errors = collect(iter(stream))
    except BadInput as exc:
        return ("refused", exc.message)
    notes = stream.notes
    return frame.rows(), errors, notes.source, notes.ignored_fields


def both(data: bytes, name: str, chunk: int, piece: int) -> None:
    with patch.object(upload_parse, "CHUNK_BYTES", chunk):
        fast = read(parsed_upload(reader(data, piece), filename=name))
    assert fast == read(Guarded(UsageStream(reader(data, piece), filename=name)))


SPICE = [
    '2026-11-02T10:00:00Z,openai,"gpt\n4o",1,1,"a\nb"\n',  # quoted across lines
    "2026-11-02T10:00:00Z,openai,gpt-4o,1,1,u,x,y,z,w,v,t,s,r,q,p,o,n,m,l,k,j\n",  # too wide
    "2026-11-02T10:00:00Z,openai,gpt-4o,1,1,\xff\n",  # not UTF-8 (written as the byte 0xff)
    "2026-11-02T10:00:00Z,openai,gpt-4o,1,1," + "x" * (FIELD_LIMIT + 1) + "\n",  # over limit
]


def spiced(draw: st.DrawFn, text: str) -> bytes:
    lines = text.splitlines(keepends=True)
    for extra in draw(st.lists(st.sampled_from(SPICE), max_size=2)):
        lines.insert(draw(st.integers(1, max(1, len(lines)))), extra)
    data = "".join(lines).encode("utf-8").replace("\xff".encode(), b"\xff")
    return (b"\xef\xbb\xbf" if draw(st.booleans()) else b"") + data


@st.composite
def csv_uploads(draw: st.DrawFn) -> bytes:
    return spiced(draw, draw(csv_files()))


@st.composite
def jsonl_uploads(draw: st.DrawFn) -> bytes:
    text = draw(jsonl_files())
    lines = text.splitlines(keepends=True)
    if draw(st.booleans()):  # at least one record so the file is recognised
        lines.insert(0, json.dumps({**JSON_PLAIN, "region": "eu"}) + "\n")
    if draw(st.booleans()):
        lines.insert(draw(st.integers(0, len(lines))), "[" * 5000 + "\n")  # nested too deeply
    return "".join(lines).encode()


SIZES = st.sampled_from([16, 64, 200, 1000, 1 << 20])


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(csv_uploads(), SIZES, st.integers(1, 300))
@example(f"{HEADER}\n{ROW}\n{ROW}".encode(), 16, 7)  # no line break at the end
@example(f"{HEADER}\n{ROW}\n\n\n{ROW},extra\n{ROW}\n".encode(), 16, 5)
@example(f'"timestamp",provider,model,input_tokens,output_tokens\n{ROW[:-2]}\n'.encode(), 16, 3)
def test_chunked_fast_upload_and_careful_stream_agree_on_csv(
    data: bytes, chunk: int, piece: int
) -> None:
    limit = csv.field_size_limit(FIELD_LIMIT)
    try:
        both(data, "upload.csv", chunk, piece)
    finally:
        csv.field_size_limit(limit)


@settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(jsonl_uploads(), SIZES, st.integers(1, 300))
def test_chunked_fast_upload_and_careful_stream_agree_on_jsonl(
    data: bytes, chunk: int, piece: int
) -> None:
    if not data.strip():
        return  # an empty upload is refused before parsing (400)
    both(data, "upload.jsonl", chunk, piece)


def test_a_plain_file_never_takes_the_careful_path(monkeypatch: Any) -> None:
    """The point of the fast path: a clean upload is parsed by polars chunk by chunk."""
    monkeypatch.setattr(upload_parse, "CHUNK_BYTES", 200)

    def refuse(*_: Any) -> Any:
        raise AssertionError("careful path used")

    monkeypatch.setattr(FastUpload, "_careful_rest", refuse)
    data = (HEADER + "\n" + "\n".join([ROW] * 50) + "\n").encode()
    stream = parsed_upload(reader(data, 64), filename="u.csv")
    pieces = list(stream)
    assert all(isinstance(p, pl.DataFrame) for p in pieces) and len(pieces) > 5
    assert sum(p.height for p in pieces) == 50
    assert stream.line == 51
