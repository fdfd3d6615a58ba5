"""Fast parsing of whole netra CSV and JSON Lines files: polars' native readers and vectorised
validation, with the careful per-row parser (``parse.py``) only for the rows the vectorised
checks do not accept as they are.

The result is the same as streaming the file through ``iter_csv`` / ``iter_jsonl``: the same
records in the same order and the same ``RowError``s (line, field, message). How:

- every value is read as text; a row is accepted by the fast path only in the plain form the
  careful parser reads the same way (ISO timestamps with an upper-case ``T``/``Z`` and at most
  6 fractional digits, digits-only integers, lower-case statuses, values without surrounding
  white space, ASCII provider names...). Any other row, valid or not, is handed to the careful
  parser with its own line: it accepts the odd forms and names the line and field of a bad row;
- a row is one physical line (polars keeps blank lines as empty rows, which the careful parser
  skips); a file where that does not hold (a quoted value spanning lines, blank lines before
  the CSV header, a line with more values than the header, anything polars refuses) is parsed
  by the careful parser whole, so nothing changes but the speed.
"""

from __future__ import annotations

import io
from collections.abc import Callable, Iterator

import numpy as np
import polars as pl

from netra.analysis.frame import conform, frame_from_records
from netra.records.record import (
    FIELDS,
    MAX_COST_USD,
    MAX_LATENCY_MS,
    MAX_TOKENS,
    REQUIRED_FIELDS,
    STATUSES,
    RowError,
    UsageRecord,
)
from netra.usage.parse import Parsed, iter_csv, iter_jsonl

_MAX_TEXT = 512
_INTS = ("input_tokens", "output_tokens", "cached_input_tokens", "cache_write_tokens")
_TEXTS = ("feature", "user", "prompt_hash", "request_id", "retry_of", "conversation_id")
_TRUE = ("true", "1", "yes", "t", "y")
_FALSE = ("false", "0", "no", "f", "n")
_ISO = r"^\d{4}-\d{2}-\d{2}[T ]\d{2}:\d{2}:\d{2}(\.\d{1,6})?(Z|[+-]\d{2}:?\d{2})?$"
# Every character Python's str.strip() removes (polars' strip_chars() misses \x1c-\x1f).
_PY_SPACE = "".join(chr(i) for i in range(0x3001) if chr(i).isspace())
_DIGITS = "0123456789"


def line_bounds(data: bytes) -> tuple[np.ndarray, np.ndarray]:
    """Start and end (exclusive, without the line break) of every physical line."""
    arr = np.frombuffer(data, dtype=np.uint8)
    breaks = np.flatnonzero(arr == 10)
    starts = np.concatenate(([0], breaks + 1))
    ends = np.concatenate((breaks, [len(data)]))
    if starts[-1] == len(data):  # the file ends with a line break: no last line
        starts, ends = starts[:-1], ends[:-1]
    cr = (ends > starts) & (arr[np.maximum(ends - 1, 0)] == 13)
    return starts, ends - cr


def _blank(data: bytes, starts: np.ndarray, ends: np.ndarray) -> np.ndarray:
    """Lines with nothing but white space (short lines are checked one by one)."""
    lengths = ends - starts
    blank = lengths == 0
    for i in np.flatnonzero((lengths > 0) & (lengths <= 32)):
        blank[i] = not data[starts[i] : ends[i]].decode("utf-8", "replace").strip()
    return blank


_MAX_NUMBER = {"latency_ms": MAX_LATENCY_MS, "cost_usd": MAX_COST_USD}


def _unpadded(col: pl.Expr) -> pl.Expr:
    """No white space at either end (Python's definition of white space)."""
    return col.str.strip_chars(_PY_SPACE).str.len_bytes() == col.str.len_bytes()


def _plain_text(col: pl.Expr) -> pl.Expr:
    # NUL cannot be stored: the careful parser names it.
    return (
        _unpadded(col)
        & (col.str.len_chars() <= _MAX_TEXT)
        & ~col.str.contains("\x00", literal=True)
    )


def _timestamps(raw: pl.Series) -> pl.Series:
    """ISO timestamps with an offset (``Z`` or +hh:mm), else naive ones read as UTC; null
    where neither reads. Parsed once per form, each only where needed."""
    iso = raw.str.replace(" ", "T", literal=True, n=1)
    parsed = iso.str.to_datetime(
        "%Y-%m-%dT%H:%M:%S%.f%#z", time_zone="UTC", strict=False, time_unit="us"
    )
    missing = parsed.is_null() & iso.is_not_null()
    if missing.any():
        naive = iso.filter(missing).str.to_datetime(
            "%Y-%m-%dT%H:%M:%S%.f", time_zone="UTC", strict=False, time_unit="us"
        )
        parsed = parsed.scatter(missing.arg_true(), naive)
    return parsed


def _validated(raw: pl.DataFrame) -> pl.DataFrame:
    """Typed columns of ``raw`` (every field as text, absent ones null) and ``_ok``: the row is
    in a plain form whose values the careful parser would read the same way."""

    def g(name: str) -> pl.Expr:
        return pl.col(name)

    ts_raw = g("timestamp")
    raw = raw.with_columns(_timestamps(raw["timestamp"]).alias("_ts"))
    timestamp = pl.col("_ts")
    ints = {
        c: g(c).cast(pl.Int64, strict=False) for c in (*_INTS, "requests", "cache_write_1h_tokens")
    }
    # Digits only and within the careful parser's bound (MAX_TOKENS).
    digits = {
        c: (g(c).str.strip_chars(_DIGITS).str.len_bytes() == 0) & (ints[c] <= MAX_TOKENS)
        for c in ints
    }
    floats = {c: g(c).cast(pl.Float64, strict=False) for c in ("latency_ms", "cost_usd")}
    lowered = g("batch").str.to_lowercase()
    batch = pl.when(lowered.is_in(_TRUE)).then(True).when(lowered.is_in(_FALSE)).then(False)
    checks = [
        # Years 1..9999 in UTC, as Python's datetime holds them (polars reads beyond).
        ts_raw.str.contains(_ISO) & timestamp.dt.year().is_between(1, 9999),
        g("provider").str.contains(r"^[\x21-\x7e]+$")
        & (g("provider").str.len_chars() <= _MAX_TEXT),
        _plain_text(g("model")),
        *[digits[c] & ints[c].is_not_null() for c in ("input_tokens", "output_tokens")],
        *[
            g(c).is_null() | (digits[c] & ints[c].is_not_null())
            for c in ("cached_input_tokens", "cache_write_tokens", "cache_write_1h_tokens")
        ],
        g("requests").is_null() | (digits["requests"] & (ints["requests"] >= 1)),
        *[
            g(c).is_null()
            | (floats[c].is_between(0, _MAX_NUMBER[c]) & floats[c].is_finite() & _unpadded(g(c)))
            for c in floats
        ],
        g("status").is_null() | g("status").is_in(STATUSES),
        g("batch").is_null() | batch.is_not_null(),
        *[g(c).is_null() | _plain_text(g(c)) for c in _TEXTS],
    ]
    cached = ints["cached_input_tokens"].fill_null(0)
    writes = ints["cache_write_tokens"].fill_null(0)
    checks += [
        cached + writes <= ints["input_tokens"],
        ints["cache_write_1h_tokens"].fill_null(0) <= writes,
    ]
    ok = pl.all_horizontal([c.fill_null(False) for c in checks])
    return raw.select(
        timestamp.alias("timestamp"),
        g("provider").str.to_lowercase().alias("provider"),
        g("model"),
        ints["input_tokens"].alias("input_tokens"),
        ints["output_tokens"].alias("output_tokens"),
        cached.alias("cached_input_tokens"),
        writes.alias("cache_write_tokens"),
        floats["latency_ms"].alias("latency_ms"),
        g("status").fill_null("ok"),
        floats["cost_usd"].alias("cost_usd"),
        *[g(c) for c in _TEXTS[:5]],
        batch.fill_null(False).alias("batch"),
        ints["requests"].fill_null(1).alias("requests"),
        g("conversation_id"),
        ints["cache_write_1h_tokens"].fill_null(0).alias("cache_write_1h_tokens"),
        ok.alias("_ok"),
    )


def _with_fields(raw: pl.DataFrame) -> pl.DataFrame:
    """Every record field as text, an empty value (a quoted "" too) as null."""
    present = [
        pl.when(pl.col(c) != "").then(pl.col(c)).alias(c) for c in raw.columns if c in FIELDS
    ]
    missing = [pl.lit(None, pl.String).alias(f) for f in FIELDS if f not in raw.columns]
    return raw.select(*present, *missing)


def _merge(
    fast: pl.DataFrame, lines: np.ndarray, careful: list[tuple[int, Parsed]]
) -> tuple[pl.DataFrame, list[RowError]]:
    """Accepted fast rows and the careful parser's answers, in line order."""
    ok = fast["_ok"].to_numpy()
    good = conform(fast.filter(pl.col("_ok")))
    records = [(line, item) for line, item in careful if isinstance(item, UsageRecord)]
    errors = [item for _, item in careful if isinstance(item, RowError)]
    if not records:
        return good, errors
    extra = frame_from_records([r for _, r in records])
    order = np.argsort(
        np.concatenate((lines[ok], np.array([line for line, _ in records]))), kind="stable"
    )
    return pl.concat([good, extra])[pl.Series(order)], errors


def _careful_lines(
    data: bytes,
    starts: np.ndarray,
    ends: np.ndarray,
    rows: np.ndarray,
    line_of: Callable[[int], int],
    parse_one: Callable[[str, int], Iterator[Parsed]],
) -> list[tuple[int, Parsed]]:
    out: list[tuple[int, Parsed]] = []
    for i in rows:
        line = line_of(int(i))
        text = data[starts[line - 1] : ends[line - 1]].decode("utf-8", "surrogateescape")
        for item in parse_one(text, line):
            out.append((line, item))
    return out


def _careful_whole(
    parse: Callable[..., Iterator[Parsed]], data: bytes, source: str
) -> tuple[pl.DataFrame, list[RowError]]:
    # Bytes that are not UTF-8 are kept as the streamed reader keeps them (its row is rejected).
    text = io.StringIO(data.decode("utf-8", "surrogateescape"), newline="")
    records: list[UsageRecord] = []
    errors: list[RowError] = []
    for item in parse(text, source=source):
        (errors if isinstance(item, RowError) else records).append(item)  # type: ignore[arg-type]
    return frame_from_records(records), errors


def line_count(data: bytes) -> int:
    return data.count(b"\n") + (0 if not data or data.endswith(b"\n") else 1)


def parse_csv_bytes(data: bytes, *, source: str = "<input>") -> tuple[pl.DataFrame, list[RowError]]:
    """A whole netra CSV file: (records as a frame, rejected rows), as ``iter_csv`` gives."""
    data = data.removeprefix(b"\xef\xbb\xbf")
    found = csv_lines_fast(data, source=source)
    return found if found is not None else _careful_whole(iter_csv, data, source)


def csv_lines_fast(data: bytes, *, source: str) -> tuple[pl.DataFrame, list[RowError]] | None:
    """``data`` (a CSV header line, then rows) parsed on the fast path, as ``iter_csv`` gives,
    or None when the fast path cannot tell rows by lines: a header that is not plain (quoted,
    blank, lacking a required column, a column twice), a quoted value spanning lines, a file
    polars refuses (a row longer than the header, bytes that are not UTF-8)."""
    end = data.find(b"\n")
    header_text = (data if end < 0 else data[:end]).decode("utf-8", "replace").rstrip("\r")
    header = [name.strip().lower() for name in header_text.split(",")]
    if (
        end < 0
        or not header_text.strip()
        or '"' in header_text
        or [f for f in REQUIRED_FIELDS if f not in header]
        or len(set(header)) != len(header)
    ):
        return None
    try:
        raw = pl.read_csv(
            io.BytesIO(data),
            infer_schema=False,
            new_columns=header,
            encoding="utf8",
            truncate_ragged_lines=False,
        )
    except Exception:  # polars refuses the file: the careful parser says why, row by row
        return None
    if raw.height != line_count(data) - 1:  # a quoted value spans lines: rows are not lines
        return None
    fast = _validated(_with_fields(raw))
    lines = np.arange(2, raw.height + 2)
    bad = np.flatnonzero(~fast["_ok"].to_numpy())  # blank lines too: the careful path skips
    if len(bad) == 0:
        return _merge(fast, lines, [])
    starts, ends = line_bounds(data)

    def one_row(text: str, line: int) -> Iterator[Parsed]:
        for item in iter_csv([header_text + "\n", text + "\n"], source=source):
            yield RowError(line, item.field, item.message) if isinstance(item, RowError) else item

    careful = _careful_lines(data, starts, ends, bad, lambda i: int(lines[i]), one_row)
    return _merge(fast, lines, careful)


def parse_jsonl_bytes(
    data: bytes, *, source: str = "<input>"
) -> tuple[pl.DataFrame, list[RowError]]:
    """A whole netra JSON Lines file: (records as a frame, rejected rows), as ``iter_jsonl``."""
    return jsonl_lines(data.removeprefix(b"\xef\xbb\xbf"), source=source)


def jsonl_lines(data: bytes, *, source: str) -> tuple[pl.DataFrame, list[RowError]]:
    """JSON Lines (a whole file without its BOM, or whole lines of one): lines numbered from 1."""
    starts, ends = line_bounds(data)
    blank = _blank(data, starts, ends)
    kept = np.flatnonzero(~blank)
    if len(kept) == 0:
        return _careful_whole(iter_jsonl, data, source)
    try:
        raw = pl.read_ndjson(io.BytesIO(data), schema=dict.fromkeys(FIELDS, pl.String))
    except Exception:  # not every line is a JSON object: the careful parser says which
        return _careful_whole(iter_jsonl, data, source)
    if raw.height != len(kept):
        return _careful_whole(iter_jsonl, data, source)
    # JSON types matter to the careful parser (a boolean is not a string or a number, a
    # fractional number in a text field is written by Python): such values are re-read by it.
    literal = [c for c in FIELDS if c != "batch"]
    typed = pl.any_horizontal(
        [pl.col(c).is_in(("true", "false")) | pl.col(c).str.contains(r"^[\[{]") for c in literal]
        + [
            pl.col(c).str.contains(r"^[-+]?[\d.]+[eE.]|^-?\d{16,}$")
            for c in ("provider", "model", *_TEXTS)
        ]
    ).fill_null(False)
    fast = _validated(_with_fields(raw)).with_columns(
        pl.col("_ok") & ~raw.select(typed).to_series()
    )
    lines = kept + 1

    def one_row(text: str, line: int) -> Iterator[Parsed]:
        for item in iter_jsonl([text], source=source):
            yield RowError(line, item.field, item.message) if isinstance(item, RowError) else item

    bad = np.flatnonzero(~fast["_ok"].to_numpy())
    careful = _careful_lines(data, starts, ends, bad, lambda i: int(lines[i]), one_row)
    return _merge(fast, lines, careful)
