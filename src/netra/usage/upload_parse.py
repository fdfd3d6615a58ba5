"""An upload's bytes as parsed rows, streamed: netra CSV and JSON Lines on the fast parser,
every other export through ``UsageStream``.

The fast read cuts the file into chunks of whole lines (about ``CHUNK_BYTES`` each, so memory
stays flat), parses each with polars and validates it vectorised (``fast_parse``); the careful
per-row parser only names the rejected rows' line and field. A chunk gives one frame of its
accepted records, in file order, and its rejected rows.

Where the fast parser cannot tell rows by lines (a quoted CSV value spanning lines, a row with
more values than the header, bytes that are not UTF-8, a line longer than the csv module's
field limit, a line nested too deeply for JSON), the rest of the file, from that chunk on, is
read by the careful streamed parser. Either way the records and the rejected rows (line, field,
message) are the ones ``UsageStream`` gives.
"""

from __future__ import annotations

import csv
from collections.abc import Iterator
from dataclasses import replace
from itertools import chain
from typing import Literal

import numpy as np
import polars as pl

from netra.records.record import RowError, UsageRecord
from netra.usage.fast_files import csv_keys, jsonl_keys, netra_layout
from netra.usage.fast_parse import csv_lines_fast, jsonl_lines, line_bounds, line_count
from netra.usage.parse import Parsed, iter_csv, iter_jsonl
from netra.usage.sources import UsageStream
from netra.usage.sources.base import Notes
from netra.usage.sources.framing import Layout, NextChunk, Rewound
from netra.usage.sources.netra_source import NETRA
from netra.usage.stream import MAX_LINE_CHARS, LineReader

CHUNK_BYTES = 512 << 10  # ~6,000 usage rows: a batch; large enough for polars, small in memory
_BOM = b"\xef\xbb\xbf"

Piece = UsageRecord | RowError | pl.DataFrame


class FastUpload:
    """The parsed pieces of a netra CSV or JSON Lines file given by ``read``: frames
    of accepted records and rejected rows, in file order. ``line``: lines read so far."""

    def __init__(self, read: Rewound, layout: Literal["csv", "jsonl"], name: str) -> None:
        self.notes = Notes(source=NETRA.name)
        if layout == "csv":  # the header's unknown columns (JSON Lines: noted chunk by chunk)
            self.notes.ignore(csv_keys(read.head), NETRA.known)
        self.name = name
        self._read = read
        self._layout = layout
        self._lines = 0
        self._careful: LineReader | None = None
        self._header = b""
        self._buffer = bytearray()  # read, not yet in a chunk

    @property
    def line(self) -> int:
        return self._careful.line if self._careful is not None else self._lines

    def __iter__(self) -> Iterator[Piece]:
        for chunk in self._chunks():
            parsed = self._parse(chunk)
            if parsed is None:
                yield from self._careful_rest(chunk)
                return
            frame, errors = parsed
            shift = self._lines - (1 if self._lines and self._layout == "csv" else 0)
            self._lines += line_count(chunk)
            yield from (replace(e, line=e.line + shift) for e in errors)
            if frame.height:
                yield frame

    def _chunks(self) -> Iterator[bytes]:
        """The file (without its BOM) in pieces that start at a line start, each of whole
        lines but the last, or a piece that never finds a line break (the careful reader
        refuses such a line)."""
        buffer = self._buffer
        first = True
        while True:
            data = self._read()
            if data is not None:
                buffer += data
                if len(buffer) < CHUNK_BYTES:
                    continue
                cut = buffer.rfind(b"\n") + 1
                if cut == 0 and len(buffer) <= MAX_LINE_CHARS:
                    continue
                cut = cut or len(buffer)
            else:
                cut = len(buffer)
            if cut:
                piece = bytes(buffer[:cut])
                del buffer[:cut]
                yield piece.removeprefix(_BOM) if first else piece
                first = False
            if data is None:
                return

    def _parse(self, chunk: bytes) -> tuple[pl.DataFrame, list[RowError]] | None:
        """A chunk on the fast parser (lines numbered from its start), or None."""
        if _longest_line(chunk) > csv.field_size_limit():
            return None
        try:
            if self._layout == "jsonl":
                self.notes.ignore(jsonl_keys(chunk), NETRA.known)
                return jsonl_lines(chunk, source=self.name)
            if not self._lines:  # the first chunk: its first line is the header
                self._header = chunk[: chunk.find(b"\n") + 1]
                return csv_lines_fast(chunk, source=self.name)
            return csv_lines_fast(self._header + chunk, source=self.name)
        except Exception:  # e.g. JSON nested too deeply: the careful read says where
            return None

    def _careful_rest(self, chunk: bytes) -> Iterator[Parsed]:
        """The file from ``chunk`` on, on the careful streamed parser."""
        pending = [chunk + bytes(self._buffer)]
        self._buffer.clear()
        reader = LineReader(
            lambda: pending.pop() if pending else self._read(), lines_before=self._lines
        )
        self._careful = reader
        if self._layout == "jsonl":
            shift = self._lines
            rows = iter_jsonl(NETRA.noting(iter(reader), self.notes), source=self.name)
        elif self._lines:  # after the header: give it again, number lines on from there
            shift = self._lines - 1
            header = self._header.decode("utf-8", "surrogateescape")
            rows = iter_csv(chain([header], reader), source=self.name)
        else:
            shift = 0
            rows = iter_csv(iter(reader), source=self.name)
        for item in rows:
            yield replace(item, line=item.line + shift) if isinstance(item, RowError) else item


def _longest_line(chunk: bytes) -> int:
    starts, ends = line_bounds(chunk)
    return int(np.max(ends - starts)) if len(starts) else 0


class Guarded:
    """Parsed rows with a reader failure the parser does not report per row (a CSV field over
    the csv module's size limit, JSON nested too deeply) turned into a reported row instead of
    a 500; the parser cannot go on after it, so the report says where reading stopped."""

    def __init__(self, stream: UsageStream | FastUpload) -> None:
        self.stream = stream

    @property
    def notes(self) -> Notes:
        return self.stream.notes

    @property
    def line(self) -> int:
        return self.stream.line

    def __iter__(self) -> Iterator[Piece]:
        try:
            yield from self.stream
        except (csv.Error, RecursionError) as exc:
            reason = "nested too deeply" if isinstance(exc, RecursionError) else str(exc)
            yield RowError(
                self.stream.line, None, f"unreadable ({reason}): the file was read up to here"
            )


def parsed_upload(
    read: NextChunk, *, filename: str, source: str = "auto", layout: Layout | None = None
) -> Guarded:
    """The parsed rows of an uploaded file read through ``read``: netra CSV / JSON Lines on
    the fast parser, anything else through ``UsageStream``."""
    rewound = Rewound(read)
    head = rewound.peek()
    fast = netra_layout(head, filename=filename, source=source, layout=layout)
    if fast is not None:
        return Guarded(FastUpload(rewound, fast, filename))
    return Guarded(UsageStream(rewound, filename=filename, source=source, layout=layout))
