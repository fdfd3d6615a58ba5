"""Whole netra files on the fast parser: a CSV or JSON Lines file that the source registry
recognises as ``netra`` is read by ``fast_parse``; anything else (another export, a JSON
document) returns None and is streamed through ``sources.UsageStream`` as before. The notes
(source, ignored fields) are the ones the streamed read would give."""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from typing import Literal

import polars as pl

from netra.core.errors import BadInput
from netra.records.record import RowError
from netra.usage.fast_parse import parse_csv_bytes, parse_jsonl_bytes
from netra.usage.sources.base import Notes, Unit
from netra.usage.sources.framing import HEAD_BYTES, Layout, read_header, sniff_layout
from netra.usage.sources.netra_source import NETRA
from netra.usage.sources.registry import choose

_KEY = r'"((?:[^"\\]|\\.)*)"\s*:'


@dataclass
class FastRead:
    frame: pl.DataFrame
    errors: list[RowError]
    notes: Notes


def netra_layout(
    head: bytes, *, filename: str, source: str = "auto", layout: Layout | None = None
) -> Literal["csv", "jsonl"] | None:
    """``csv`` or ``jsonl`` when the file starting with ``head`` is a netra CSV or JSON Lines
    file (as the source registry recognises it), else None."""
    if source not in ("auto", NETRA.name):
        return None
    layout = layout or sniff_layout(filename, head)
    if layout == "json":
        return None
    text = head.decode("utf-8", "replace").lstrip("\ufeff").splitlines(keepends=True)
    unit: Unit | None = None
    if layout == "csv":
        _, keys, _ = read_header(iter(text))
    else:
        first = next((t for t in text if t.strip()), "")
        try:
            obj = json.loads(first)
        except ValueError:
            return None
        if not isinstance(obj, dict):
            return None
        keys, unit = list(obj), Unit(1, obj)
    if not keys:
        return None
    try:
        if choose(keys, unit, source, filename) is not NETRA:
            return None
    except BadInput:
        return None  # the streamed read raises it, with its own wording
    return layout


def read_netra_file(data: bytes, *, filename: str, source: str = "auto") -> FastRead | None:
    """``data`` parsed whole when it is a netra CSV or JSON Lines file, else None."""
    layout = netra_layout(data[:HEAD_BYTES], filename=filename, source=source)
    if layout is None:
        return None
    notes = Notes(source=NETRA.name)
    if layout == "csv":
        notes.ignore(csv_keys(data[:HEAD_BYTES]), NETRA.known)
        frame, errors = parse_csv_bytes(data, source=filename)
    else:
        notes.ignore(jsonl_keys(data), NETRA.known)
        frame, errors = parse_jsonl_bytes(data, source=filename)
    return FastRead(frame, errors, notes)


def csv_keys(head: bytes) -> list[str]:
    """The CSV header's column names as the streamed read notes them (lower case)."""
    text = head.decode("utf-8", "replace").lstrip("\ufeff").splitlines(keepends=True)
    _, keys, _ = read_header(iter(text))
    return [k.lower() for k in keys]


def jsonl_keys(data: bytes) -> list[str]:
    """Every key of the file's objects, in the order first met: candidates found by a
    vectorised scan of the lines, each unknown one confirmed by parsing a line that has it (a
    ``"x":`` inside a string value is not a key)."""
    lines = pl.Series(data.decode("utf-8", "replace").splitlines())
    found = lines.str.extract_all(_KEY).explode().drop_nulls().unique(maintain_order=True)
    keys: list[str] = []
    for candidate in found.to_list():
        name = json.loads(re.sub(r"\s*:$", "", candidate))
        if name in NETRA.known:
            keys.append(name)
            continue
        holder = lines.filter(lines.str.contains(candidate, literal=True)).head(20)
        for line in holder.to_list():
            try:
                obj = json.loads(line)
            except ValueError:
                continue
            if isinstance(obj, dict) and name in obj:
                keys.append(name)
                break
    return keys
