"""How a usage file is laid out, and its objects one at a time, never the whole file.

- ``csv``: a header row, then one object per row (values as strings).
- ``jsonl``: one JSON object per line.
- ``json``: one JSON document, ``[...]`` or ``{...}``, parsed incrementally with ijson: the
  items of a top-level array, or of the array under a top-level ``records`` or ``data`` key
  (``{"records": [...]}``, ``{"object": "page", "data": [...]}``), are built one by one; the
  top-level object's other values come along as the items' ``context``. A document that is an
  object without such an array is one item. Several documents in a row are read in turn.
"""

from __future__ import annotations

import csv
import json
import re
from collections.abc import Callable, Iterator
from typing import Any, Literal

import ijson
from ijson.common import ObjectBuilder

from netra.core.errors import BadInput
from netra.records.record import RowError
from netra.usage.sources.base import Unit

Layout = Literal["csv", "jsonl", "json"]
NextChunk = Callable[[], bytes | None]
HEAD_BYTES = 64 * 1024  # enough to see a CSV header or a JSON Lines row in full


class Rewound:
    """A ``next_chunk`` whose first bytes were read ahead (to sniff the layout) and are handed
    out again first."""

    def __init__(self, next_chunk: NextChunk) -> None:
        self._next = next_chunk
        self._ahead: list[bytes] = []
        self.head = b""
        self.bytes_read = 0

    def peek(self, size: int = HEAD_BYTES) -> bytes:
        ended = False
        while sum(map(len, self._ahead)) < size and not ended:
            chunk = self._next()
            if chunk is None:
                ended = True
            elif chunk:
                self._ahead.append(chunk)
        self.head = b"".join(self._ahead)
        return self.head

    def __call__(self) -> bytes | None:
        chunk = self._ahead.pop(0) if self._ahead else self._next()
        if chunk:
            self.bytes_read += len(chunk)
        return chunk


def sniff_layout(filename: str | None, head: bytes) -> Layout:
    """CSV, JSON Lines or one JSON document, from the first bytes (then the file name)."""
    body = head.lstrip(b"\xef\xbb\xbf").lstrip()
    if body.startswith(b"["):
        return "json"
    if body.startswith(b"{"):
        newline = body.find(b"\n")
        if newline < 0 or not body[newline:].strip():
            return "json"  # a single document (whatever its size): read it item by item
        return "jsonl" if _line_record(body[:newline]) else "json"
    name = (filename or "").lower()
    if name.endswith((".jsonl", ".ndjson", ".json")) and not body:
        return "jsonl"
    return "csv"


def _line_record(text: bytes) -> bool:
    """Whether a first line is a whole JSON object of its own (not ``{"records": [...]}``,
    whose records are items)."""
    try:
        value = json.loads(text)
    except ValueError:
        return False
    return isinstance(value, dict) and not isinstance(value.get("records"), list)


def csv_units(
    lines: Iterator[str], header_line: int, header: list[str]
) -> Iterator[Unit | RowError]:
    """The rows after a CSV header (already read), as column -> value."""
    reader = csv.reader(lines)
    width = len(header)
    for row in reader:
        if not row or (len(row) == 1 and not row[0].strip()):
            continue
        line = header_line + reader.line_num
        if len(row) > width:
            yield RowError(line, None, f"{len(row)} values for {width} columns")
            continue
        yield Unit(line, dict(zip(header, row, strict=False)))


def read_header(lines: Iterator[str]) -> tuple[int, list[str], list[str]]:
    """The first non-blank row of a CSV: (its line, column names, the raw lines read)."""
    raw: list[str] = []
    for text in lines:
        raw.append(text)
        if text.strip():
            row = next(csv.reader([text]), [])
            return len(raw), [c.strip().lstrip("\ufeff") for c in row], raw
    return len(raw), [], raw


def jsonl_units(lines: Iterator[str], start: int = 0) -> Iterator[Unit | RowError]:
    for number, text in enumerate(lines, start=start + 1):
        if not text.strip():
            continue
        try:
            obj = json.loads(text)
        except ValueError as exc:
            yield RowError(number, None, f"invalid JSON: {exc}")
            continue
        except RecursionError:
            yield RowError(number, None, "invalid JSON: nested too deeply")
            continue
        if not isinstance(obj, dict):
            yield RowError(number, None, "expected a JSON object")
            continue
        yield Unit(number, obj)


class _Stream:
    """A file-like ``read(n)`` over ``next_chunk`` for ijson."""

    def __init__(self, next_chunk: NextChunk) -> None:
        self._next = next_chunk
        self._buffer = b""
        self._ended = False

    def read(self, size: int = -1) -> bytes:
        while not self._ended and (size < 0 or len(self._buffer) < size):
            chunk = self._next()
            if chunk is None:
                self._ended = True
            else:
                self._buffer += chunk
                if size < 0:
                    continue
                break
        if size < 0 or size >= len(self._buffer):
            out, self._buffer = self._buffer, b""
        else:
            out, self._buffer = self._buffer[:size], self._buffer[size:]
        return out


Event = tuple[str, str, Any]


def _build(event: str, value: Any, events: Iterator[Event]) -> Any:
    """The whole value that starts with ``event`` (a scalar, or a container built event by
    event until it closes)."""
    if event not in ("start_map", "start_array"):
        return value
    builder = ObjectBuilder()
    builder.event(event, value)
    depth = 1
    for _, kind, item in events:
        builder.event(kind, item)
        if kind in ("start_map", "start_array"):
            depth += 1
        elif kind in ("end_map", "end_array"):
            depth -= 1
            if depth == 0:
                break
    return builder.value


CONTAINERS = frozenset({"records", "data"})  # the arrays that hold the items of a document
_RECORDS_FIRST = re.compile(rb'^\{\s*"records"\s*:\s*\[')


def json_units(next_chunk: NextChunk, head: bytes = b"") -> Iterator[Unit | RowError]:
    """The items of one or more JSON documents, built one at a time (see the module doc).

    ``[...]`` and ``{"records": [...]}`` (the common large documents) take ijson's fast path,
    where the C backend builds each item; other documents are walked event by event."""
    body = head.lstrip(b"\xef\xbb\xbf").lstrip()
    stream = _Stream(next_chunk)
    position = 0
    try:
        if body.startswith(b"[") or _RECORDS_FIRST.match(body):
            prefix, name = ("item", "") if body.startswith(b"[") else ("records.item", "records")
            items = ijson.items(stream, prefix, use_float=True, multiple_values=True)
            for index, item in enumerate(items):
                position += 1
                yield _unit(position, item, f"{name}[{index}]", {})
            return
        events: Iterator[Event] = ijson.parse(stream, multiple_values=True, use_float=True)
        for item, path, context in _values(events):
            position += 1
            yield _unit(position, item, path, context)
    except ijson.JSONError as exc:
        raise BadInput(f"not valid JSON after item {position}: {exc}") from None


def _values(events: Iterator[Event]) -> Iterator[tuple[Any, str, dict[str, Any]]]:
    for _, kind, value in events:
        if kind == "start_array":
            for index, item in enumerate(_array_items(events)):
                yield item, f"[{index}]", {}
        elif kind == "start_map":
            yield from _object_items(events)
        else:
            yield value, "", {}


def _array_items(events: Iterator[Event]) -> Iterator[Any]:
    for _, kind, value in events:
        if kind == "end_array":
            return
        yield _build(kind, value, events)


def _object_items(events: Iterator[Event]) -> Iterator[tuple[Any, str, dict[str, Any]]]:
    """A top-level object: the items of its ``records`` / ``data`` arrays (context: its other
    values so far), or the object itself when it holds neither."""
    context: dict[str, Any] = {}
    streamed = False
    key = ""
    for _, kind, value in events:
        if kind == "end_map":
            break
        if kind == "map_key":
            key = value
            continue
        if kind == "start_array" and key in CONTAINERS:
            streamed = True
            for index, item in enumerate(_array_items(events)):
                yield item, f"{key}[{index}]", dict(context)
        else:
            context[key] = _build(kind, value, events)
    if not streamed:
        yield context, "", {}


def _unit(position: int, item: Any, path: str, context: dict[str, Any]) -> Unit | RowError:
    if not isinstance(item, dict):
        return RowError(position, path or None, "expected a JSON object")
    return Unit(position, item, path, context)
