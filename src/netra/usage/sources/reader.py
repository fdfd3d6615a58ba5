"""Read a usage file of any source, streamed: layout sniffed, source recognised, rows mapped.

``UsageStream(next_chunk, filename=..., source="auto")`` iterates the parsed rows (records and
row errors, in file order) of the bytes ``next_chunk`` hands out, never holding the file. Its
``notes`` say which source it was and which fields were ignored; ``line`` is where reading is
(the file line for CSV and JSON Lines, the item's position in a JSON document).

A file whose source cannot be told, or a cost-only export, raises ``BadInput`` naming what was
expected, before any row is yielded.
"""

from __future__ import annotations

from collections.abc import Iterator
from itertools import chain

from netra.core.errors import BadInput
from netra.records.record import RowError
from netra.usage.parse import Parsed
from netra.usage.sources.base import Notes, Unit
from netra.usage.sources.framing import (
    Layout,
    NextChunk,
    Rewound,
    csv_units,
    json_units,
    jsonl_units,
    read_header,
    sniff_layout,
)
from netra.usage.sources.registry import check_source_name, choose
from netra.usage.sources.source import Source
from netra.usage.stream import LineReader

_SNIFF_UNITS = 1000  # JSON objects read ahead (errors only) to find one to recognise


class UsageStream:
    def __init__(
        self,
        next_chunk: NextChunk,
        *,
        filename: str | None = None,
        source: str = "auto",
        layout: Layout | None = None,
    ) -> None:
        self.notes = Notes()
        self.name = filename or "upload"
        self.requested = check_source_name(source)
        self.layout = layout
        self._input = Rewound(next_chunk)
        self._lines: LineReader | None = None
        self._position = 0

    @property
    def line(self) -> int:
        return self._lines.line if self._lines is not None else self._position

    @property
    def bytes_read(self) -> int:
        return self._input.bytes_read

    def __iter__(self) -> Iterator[Parsed]:
        head = self._input.peek()
        layout = self.layout or sniff_layout(self.name, head)
        if layout == "json":
            return self._units(json_units(self._input, head))
        self._lines = LineReader(self._input)
        if layout == "jsonl":
            return self._jsonl(iter(self._lines))
        return self._csv(iter(self._lines))

    def _choose(self, keys: list[str], unit: Unit | None) -> Source:
        source = choose(keys, unit, self.requested, self.name)
        self.notes.source = source.name
        return source

    def _csv(self, lines: Iterator[str]) -> Iterator[Parsed]:
        header_line, header, raw = read_header(lines)
        if not header:
            yield RowError(max(header_line, 1), None, f"{self.name}: empty file (no CSV header)")
            return
        source = self._choose(header, None)
        fast = source.csv_lines(chain(raw, lines), header, self.notes, self.name)
        if fast is not None:
            yield from fast
            return
        self.notes.ignore(header, source.known)
        for unit in csv_units(lines, header_line, header):
            if isinstance(unit, RowError):
                yield unit
            else:
                yield from source.rows(unit, self.notes)

    def _jsonl(self, lines: Iterator[str]) -> Iterator[Parsed]:
        raw: list[str] = []
        first: Unit | None = None
        for text in lines:
            raw.append(text)
            if text.strip():
                found = next(iter(jsonl_units(iter([text]))), None)
                if isinstance(found, Unit):
                    first = found
                    break
            if len(raw) > _SNIFF_UNITS:
                break
        if first is None:
            if not any(t.strip() for t in raw):
                yield RowError(1, None, f"{self.name}: empty file")
                return
            raise BadInput(f"{self.name}: no JSON object in the first {len(raw)} lines")
        source = self._choose(list(first.data), first)
        replay = chain(raw, lines)
        fast = source.jsonl_lines(replay, self.notes, self.name)
        if fast is not None:
            yield from fast
            return
        for unit in jsonl_units(replay):
            if isinstance(unit, RowError):
                yield unit
            else:
                yield from source.rows(unit, self.notes)

    def _units(self, units: Iterator[Unit | RowError]) -> Iterator[Parsed]:
        held: list[RowError] = []
        first: Unit | None = None
        for item in units:
            if isinstance(item, Unit):
                first = item
                break
            held.append(item)
            if len(held) > _SNIFF_UNITS:
                break
        if first is None:
            yield from held
            if not held:
                yield RowError(1, None, f"{self.name}: no usage record in the JSON document")
            return
        source = self._choose(list(first.data), first)
        yield from held
        for item in chain([first], units):
            if isinstance(item, RowError):
                self._position = item.line
                yield item
                continue
            self._position = item.line
            yield from source.rows(item, self.notes)
