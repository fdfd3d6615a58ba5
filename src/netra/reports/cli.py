"""``netra analyze``: reports from usage files, without a server.

``analyze`` streams each file through the usage sources (any export of API.md "Usage
sources", recognised from its header or keys unless ``--source`` names it; CSV, JSON Lines or
a JSON document) and says on stderr which source each file is and which columns it ignored;
netra CSV and JSON Lines files are read whole by the fast parser instead (``usage.fast_files``:
the same records and errors, several times faster). It
keeps the good rows, reports bad rows on stderr as ``FILE:LINE: field: reason`` (the first
``MAX_SHOWN``, then a count), drops repeated ``request_id``s (first one wins), analyses the
rest and prints the report as a table (Rich), JSON or a self-contained HTML page with charts.
Exit codes (API.md): 0 done (even with some rejected rows, which are listed), 1 the analysis
failed, 2 bad usage or bad input: a missing or unreadable file, an unknown layout or source, or
no valid row at all (the message names the file, line and field of the first problem).
"""

from __future__ import annotations

import csv
import json
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import TextIO

import polars as pl
from rich.console import Console
from rich.progress import BarColumn, DownloadColumn, Progress, TaskID, TimeRemainingColumn

from netra.analysis.frame import SCHEMA, frame_from_records
from netra.core.errors import BadInput as NetraBadInput
from netra.records.record import RowError, UsageRecord
from netra.usage.fast_files import FastRead, read_netra_file
from netra.usage.parse import Parsed
from netra.usage.sources import SOURCE_NAMES, UsageStream
from netra.usage.sources.base import Notes

FORMATS = ("table", "json", "html")
MAX_SHOWN = 20
CHUNK = 100_000


class BadInput(Exception):
    """Input the command cannot use: exit 2 with this message."""


def _err(message: str) -> None:
    print(message, file=sys.stderr)


READ_BYTES = 1 << 20


def _records(path: Path, advance: list[int], source: str) -> Iterator[Parsed]:
    try:
        handle = path.open("rb")
    except FileNotFoundError:
        raise BadInput(f"error: {path}: no such file") from None
    except OSError as exc:
        raise BadInput(f"error: {path}: cannot read: {exc.strerror or exc}") from None

    def next_chunk() -> bytes | None:
        chunk = handle.read(READ_BYTES)
        advance[0] += len(chunk)
        return chunk or None

    with handle:
        stream = UsageStream(next_chunk, filename=str(path), source=source)
        try:
            yield from stream
        except NetraBadInput as exc:
            raise BadInput(f"error: {exc.message}") from None
        except (csv.Error, RecursionError) as exc:
            raise BadInput(f"error: {path}:{stream.line}: unreadable: {exc}") from None
        _say_notes(path, stream.notes)


def _say_notes(path: Path, notes: Notes) -> None:
    if notes.source is not None:
        said = f"{path}: read as {notes.source}"
        if notes.ignored_fields:
            said += f"; ignored fields: {', '.join(notes.ignored_fields)}"
        if notes.skipped:
            said += f"; {notes.skipped} row(s) without a call skipped"
        _err(said)


def _fast(path: Path, source: str) -> FastRead | None:
    """The whole file on the fast parser when it is a netra CSV or JSON Lines file."""
    if not path.is_file():
        return None  # the streamed read names the problem
    try:
        data = path.read_bytes()
        return read_netra_file(data, filename=str(path), source=source)
    except OSError:
        return None
    except UnicodeDecodeError as exc:
        raise BadInput(f"error: {path}: not UTF-8 text ({exc.reason})") from None


def load_files(
    files: list[Path], *, progress: bool = False, source: str = "auto"
) -> tuple[pl.DataFrame, int]:
    """Parse every file into one frame; return it and the number of rejected rows."""
    frames: list[pl.DataFrame] = []
    rejected = 0
    first_error: str | None = None
    total = sum(p.stat().st_size for p in files if p.is_file())
    advance = [0]
    bar = _progress(total) if progress else None
    try:
        for path in files:
            if path.is_dir():
                raise BadInput(f"error: {path}: is a directory, not a usage file")
            fast = _fast(path, source)
            if fast is not None:
                frames.append(fast.frame)
                for error in fast.errors:
                    rejected += 1
                    where = f"{path}:{error.line}: {error.field or 'row'}: {error.message}"
                    first_error = first_error or where
                    if rejected <= MAX_SHOWN:
                        _err(where)
                _say_notes(path, fast.notes)
                advance[0] += path.stat().st_size
                if bar is not None:
                    bar[0].update(bar[1], completed=advance[0])
                continue
            chunk: list[UsageRecord] = []
            for item in _records(path, advance, source):
                if isinstance(item, RowError):
                    rejected += 1
                    where = f"{path}:{item.line}: {item.field or 'row'}: {item.message}"
                    first_error = first_error or where
                    if rejected <= MAX_SHOWN:
                        _err(where)
                    continue
                chunk.append(item)
                if len(chunk) >= CHUNK:
                    frames.append(frame_from_records(chunk))
                    chunk = []
                    if bar is not None:
                        bar[0].update(bar[1], completed=advance[0])
            if chunk:
                frames.append(frame_from_records(chunk))
            if bar is not None:
                bar[0].update(bar[1], completed=advance[0])
    finally:
        if bar is not None:
            bar[0].stop()
    if rejected > MAX_SHOWN:
        _err(f"... and {rejected - MAX_SHOWN} more rejected rows")
    frame = pl.concat(frames) if frames else pl.DataFrame(schema=SCHEMA)
    if frame.height == 0:
        raise BadInput(
            f"error: no valid usage record; first problem: {first_error or 'empty input'}"
        )
    # One pass, order kept: a row without request_id, or the first row of each request_id.
    frame = frame.filter(pl.col("request_id").is_null() | pl.col("request_id").is_first_distinct())
    return frame, rejected


def _progress(total: int) -> tuple[Progress, TaskID]:
    bar = Progress(
        "[progress.description]{task.description}",
        BarColumn(),
        DownloadColumn(),
        TimeRemainingColumn(),
        console=Console(file=sys.stderr),
        transient=True,
    )
    task = bar.add_task("reading usage", total=max(total, 1))
    bar.start()
    return bar, task


def _console(file: TextIO, width: int | None = None) -> Console:
    return Console(file=file, width=width, highlight=False)


def analyze_command(files: list[Path], fmt: str, out: Path | None, source: str = "auto") -> int:
    from netra.analysis.engine import analyze
    from netra.analysis.report_html import render_html
    from netra.analysis.report_table import render_table

    if fmt not in FORMATS:
        _err(f"error: --format {fmt!r}: expected one of {', '.join(FORMATS)}")
        return 2
    if not files:
        _err("error: give at least one usage file")
        return 2
    if source not in SOURCE_NAMES:
        _err(f"error: --source {source!r}: expected one of {', '.join(SOURCE_NAMES)}")
        return 2
    try:
        frame, rejected = load_files(files, progress=sys.stderr.isatty(), source=source)
    except BadInput as exc:
        _err(str(exc))
        return 2
    try:
        report = analyze(frame)
    except Exception as exc:  # the analysis itself failed: exit 1, never a traceback
        _err(f"error: analysis failed: {type(exc).__name__}: {exc}")
        return 1
    report["rejected_rows"] = rejected
    try:
        if fmt == "json":
            text = json.dumps(report, indent=2)
            _emit(text, out)
        elif fmt == "html":
            _emit(render_html(report), out)
        elif out is not None:
            with out.open("w", encoding="utf-8") as handle:
                render_table(report, _console(handle, width=120))
        else:
            render_table(report, _console(sys.stdout, None if sys.stdout.isatty() else 140))
    except OSError as exc:
        _err(f"error: {out}: cannot write: {exc.strerror or exc}")
        return 1
    if rejected:
        _err(f"{rejected} row(s) rejected, {frame.height} analysed")
    return 0


def _emit(text: str, out: Path | None) -> None:
    if out is None:
        sys.stdout.write(text + "\n")
    else:
        out.write_text(text + "\n", encoding="utf-8")
