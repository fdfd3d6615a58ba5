"""``netra analyze``: reports from usage files, without a server.

``analyze`` streams each file through the parser (CSV or JSON Lines, told apart by name then
content), keeps the good rows, reports bad rows on stderr as ``FILE:LINE: field: reason`` (the
first ``MAX_SHOWN``, then a count), drops repeated ``request_id``s (first one wins), analyses the
rest and prints the report as a table (Rich), JSON or a self-contained HTML page with charts.
Exit codes (API.md): 0 done (even with some rejected rows, which are listed), 1 the analysis
failed, 2 bad usage or bad input: a missing or unreadable file, an unknown format, or no valid
row at all (the message names the file, line and field of the first problem).
"""

from __future__ import annotations

import json
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import TextIO

import polars as pl
from rich.console import Console
from rich.progress import BarColumn, DownloadColumn, Progress, TaskID, TimeRemainingColumn

from netra.analysis.frame import SCHEMA, frame_from_records
from netra.records.record import RowError, UsageRecord
from netra.usage.parse import Parsed, iter_csv, iter_jsonl, sniff_format

FORMATS = ("table", "json", "html")
MAX_SHOWN = 20
CHUNK = 100_000


class BadInput(Exception):
    """Input the command cannot use: exit 2 with this message."""


def _err(message: str) -> None:
    print(message, file=sys.stderr)


def _counted(handle: TextIO, advance: list[int]) -> Iterator[str]:
    for line in handle:
        advance[0] += len(line)
        yield line


def _records(path: Path, advance: list[int]) -> Iterator[Parsed]:
    try:
        with path.open("rb") as raw:
            head = raw.read(512)
        handle = path.open("r", encoding="utf-8-sig", newline="")
    except FileNotFoundError:
        raise BadInput(f"error: {path}: no such file") from None
    except OSError as exc:
        raise BadInput(f"error: {path}: cannot read: {exc.strerror or exc}") from None
    parse = iter_csv if sniff_format(path.name, head) == "csv" else iter_jsonl
    with handle:
        try:
            yield from parse(_counted(handle, advance), source=str(path))
        except UnicodeDecodeError as exc:
            raise BadInput(f"error: {path}: not UTF-8 text ({exc.reason})") from None


def load_files(files: list[Path], *, progress: bool = False) -> tuple[pl.DataFrame, int]:
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
            chunk: list[UsageRecord] = []
            for item in _records(path, advance):
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
    with_id = frame.filter(pl.col("request_id").is_not_null()).unique(
        subset="request_id", keep="first", maintain_order=True
    )
    frame = pl.concat([with_id, frame.filter(pl.col("request_id").is_null())])
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


def analyze_command(files: list[Path], fmt: str, out: Path | None) -> int:
    from netra.analysis.engine import analyze
    from netra.analysis.report_html import render_html
    from netra.analysis.report_table import render_table

    if fmt not in FORMATS:
        _err(f"error: --format {fmt!r}: expected one of {', '.join(FORMATS)}")
        return 2
    if not files:
        _err("error: give at least one usage file")
        return 2
    try:
        frame, rejected = load_files(files, progress=sys.stderr.isatty())
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
