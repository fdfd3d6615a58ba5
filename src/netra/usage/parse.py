"""Parsing and validation of usage records from CSV, JSON Lines and JSON API payloads.

Streaming: ``iter_csv`` and ``iter_jsonl`` read one line at a time and yield, in input order,
a ``UsageRecord`` for every good row and a ``RowError`` for every rejected one. A bad row never
stops the stream. Decisions (documented for users in API.md terms):

- Column / key names are the API.md field names. Unknown columns are ignored, not errors, so
  exports with extra columns (an ``org`` or ``region`` column) load as they are.
- An empty value in an optional field means "absent" (its default). An empty required field is
  "missing required field".
- Integers: ``12`` or an integral ``12.0``; never negative. Booleans: true/false, 1/0, yes/no,
  t/f, y/n (any case).
- Timestamps: RFC 3339 / ISO 8601 (``Z`` or an offset; UTC when none) or Unix seconds (int or
  float). A number above 1e11 is refused as "looks like milliseconds" rather than read as a date
  in the year 5000.
- ``cached_input_tokens + cache_write_tokens`` may not exceed ``input_tokens`` (input counts
  every prompt token, cached reads and writes included); ``cache_write_1h_tokens`` may not
  exceed ``cache_write_tokens`` (it is the one-hour part of them). ``requests`` is >= 1.
- One error per rejected row: the first problem found, naming its field.
- CSV line numbers are 1-based file lines, the header being line 1 (a quoted field spanning
  lines reports the line where its row ends). JSON Lines numbers are file lines. A CSV header
  lacking a required column yields a single error on line 1 (field = that column) and nothing
  else: no row of such a file can be valid.
- A CSV header of more than ``MAX_CSV_COLUMNS`` columns is refused on line 1. A message quotes
  at most ``SHOWN_CHARS`` characters of a bad value.
- ``parse_record(mapping, line)`` validates one JSON API record; ``line`` is its index + 1.
"""

from __future__ import annotations

import csv
import json
import math
from collections.abc import Iterable, Iterator, Mapping
from datetime import UTC, datetime
from typing import Any, Literal, TextIO

from netra.core.inputs import UNSTORABLE, text_problem
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

Parsed = UsageRecord | RowError

_TRUE = frozenset({"true", "1", "yes", "t", "y"})
_FALSE = frozenset({"false", "0", "no", "f", "n", ""})
_STATUSES = frozenset(STATUSES)
_MAX_UNIX_SECONDS = 1e11  # ~ year 5138: anything larger is almost surely milliseconds
_INT_FIELDS = ("input_tokens", "output_tokens", "cached_input_tokens", "cache_write_tokens")
_TEXT_FIELDS = ("feature", "user", "prompt_hash", "request_id", "retry_of", "conversation_id")
_MAX_TEXT = 512
_MAX_NUMBER = {"cost_usd": MAX_COST_USD, "latency_ms": MAX_LATENCY_MS}
# A usage export has a few dozen columns; a wide header would make every short row costly.
MAX_CSV_COLUMNS = 1024
SHOWN_CHARS = 60  # how much of a bad value a message quotes


def shown(value: Any) -> str:
    """A bad value as a message quotes it: its repr, cut (a message never echoes a whole
    300 MB field back)."""
    text = value if isinstance(value, str) else repr(value)
    if len(text) <= SHOWN_CHARS:
        return repr(value)
    return f"{text[:SHOWN_CHARS]!r}... ({len(text)} characters)"


class _Bad(Exception):
    """A field-level validation failure (internal: turned into a RowError)."""

    def __init__(self, field: str | None, message: str) -> None:
        super().__init__(message)
        self.field = field
        self.message = message


def parse_timestamp(value: Any) -> datetime:
    """RFC 3339 / ISO 8601 (UTC when no offset) or Unix seconds -> aware UTC datetime."""
    if isinstance(value, bool):
        raise ValueError("expected a timestamp, got a boolean")
    if isinstance(value, int | float):
        return _from_unix(float(value))
    if isinstance(value, datetime):  # already parsed by a source adapter
        return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)
    text = str(value).strip()
    if not text:
        raise ValueError("empty timestamp")
    first = text[0]
    if first.isdigit() or first in "+-.":
        try:
            number = float(text)
        except ValueError:
            pass
        else:
            return _from_unix(number)
    try:
        parsed = datetime.fromisoformat(text.upper())  # RFC 3339 allows "t" and "z"
    except ValueError:
        raise ValueError(
            f"not an RFC 3339 / ISO 8601 timestamp or Unix seconds: {shown(text)}"
        ) from None
    if parsed.tzinfo is None:
        return parsed.replace(tzinfo=UTC)
    try:
        return parsed.astimezone(UTC)
    except OverflowError:  # 9999-12-31T23:59:59-14:00, 0001-01-01T00:00:00+05:00
        raise ValueError(f"{shown(text)} is outside the years 1..9999 in UTC") from None


def _from_unix(number: float) -> datetime:
    if not math.isfinite(number) or number < 0:
        raise ValueError("Unix seconds must be a finite number >= 0")
    if number > _MAX_UNIX_SECONDS:
        raise ValueError("looks like milliseconds: give Unix seconds")
    return datetime.fromtimestamp(number, tz=UTC)


def _int(field: str, value: Any, minimum: int = 0) -> int:
    if isinstance(value, bool):
        raise _Bad(field, f"expected an integer >= {minimum}, got a boolean")
    if isinstance(value, int):
        number = value
    else:
        text = str(value).strip()
        try:
            number = int(text)
        except ValueError:
            try:
                as_float = float(text)
            except ValueError:
                raise _Bad(field, f"expected an integer >= {minimum}, got {shown(text)}") from None
            if not as_float.is_integer():
                raise _Bad(field, f"expected an integer >= {minimum}, got {shown(text)}") from None
            number = int(as_float)
    if number < minimum:
        raise _Bad(field, f"must be >= {minimum}, got {number}")
    if number > MAX_TOKENS:
        raise _Bad(field, f"must be <= {MAX_TOKENS:.0e}, got {number}")
    return number


def _number(field: str, value: Any) -> float:
    if isinstance(value, bool):
        raise _Bad(field, "expected a number >= 0, got a boolean")
    try:
        number = float(value)
    except (TypeError, ValueError):
        raise _Bad(field, f"expected a number >= 0, got {shown(value)}") from None
    if not math.isfinite(number) or number < 0:
        raise _Bad(field, f"must be a finite number >= 0, got {shown(value)}")
    if number > _MAX_NUMBER.get(field, math.inf):
        raise _Bad(field, f"must be <= {_MAX_NUMBER[field]:.0e}, got {shown(value)}")
    return number


def _bool(field: str, value: Any) -> bool:
    if isinstance(value, bool):
        return value
    text = str(value).strip().lower()
    if text in _TRUE:
        return True
    if text in _FALSE:
        return False
    raise _Bad(field, f"expected true or false, got {shown(value)}")


def _text(field: str, value: Any) -> str | None:
    if value is None:
        return None
    if not isinstance(value, str | int | float) or isinstance(value, bool):
        raise _Bad(field, "expected a string")
    text = str(value).strip()
    if not text:
        return None
    problem = text_problem(text)
    if problem is not None:
        raise _Bad(field, problem)
    if len(text) > _MAX_TEXT:
        raise _Bad(field, f"longer than {_MAX_TEXT} characters")
    return text


def _absent(value: Any) -> bool:
    return value is None or (isinstance(value, str) and not value.strip())


def _build(get: Mapping[str, Any]) -> UsageRecord:
    """Validate one row given as field -> raw value (str from CSV, any JSON type)."""
    for field in REQUIRED_FIELDS:
        if _absent(get.get(field)):
            raise _Bad(field, "missing required field")
    try:
        timestamp = parse_timestamp(get["timestamp"])
    except ValueError as exc:
        raise _Bad("timestamp", str(exc)) from None
    provider = _text("provider", get["provider"])
    model = _text("model", get["model"])
    assert provider is not None and model is not None  # checked above
    input_tokens = _int("input_tokens", get["input_tokens"])
    output_tokens = _int("output_tokens", get["output_tokens"])
    raw = get.get("cached_input_tokens")
    cached = 0 if _absent(raw) else _int("cached_input_tokens", raw)
    raw = get.get("cache_write_tokens")
    writes = 0 if _absent(raw) else _int("cache_write_tokens", raw)
    if cached > input_tokens:
        raise _Bad("cached_input_tokens", "cached_input_tokens exceed input_tokens")
    if cached + writes > input_tokens:
        raise _Bad(
            "cache_write_tokens", "cached_input_tokens + cache_write_tokens exceed input_tokens"
        )
    raw = get.get("latency_ms")
    latency = None if _absent(raw) else _number("latency_ms", raw)
    raw = get.get("status")
    status = "ok"
    if not _absent(raw):
        status = str(raw).strip().lower()
        if status not in _STATUSES:
            expected = ", ".join(STATUSES)
            raise _Bad("status", f"unknown status {shown(raw)}: expected one of {expected}")
    raw = get.get("cost_usd")
    cost = None if _absent(raw) else _number("cost_usd", raw)
    raw = get.get("batch")
    batch = False if _absent(raw) else _bool("batch", raw)
    raw = get.get("requests")
    requests = 1 if _absent(raw) else _int("requests", raw, minimum=1)
    raw = get.get("cache_write_1h_tokens")
    writes_1h = 0 if _absent(raw) else _int("cache_write_1h_tokens", raw)
    if writes_1h > writes:
        raise _Bad("cache_write_1h_tokens", "cache_write_1h_tokens exceed cache_write_tokens")
    return UsageRecord(
        timestamp=timestamp,
        provider=provider.lower(),
        model=model,
        input_tokens=input_tokens,
        output_tokens=output_tokens,
        cached_input_tokens=cached,
        cache_write_tokens=writes,
        latency_ms=latency,
        status=status,
        cost_usd=cost,
        feature=_text("feature", get.get("feature")),
        user=_text("user", get.get("user")),
        prompt_hash=_text("prompt_hash", get.get("prompt_hash")),
        request_id=_text("request_id", get.get("request_id")),
        retry_of=_text("retry_of", get.get("retry_of")),
        batch=batch,
        requests=requests,
        conversation_id=_text("conversation_id", get.get("conversation_id")),
        cache_write_1h_tokens=writes_1h,
    )


def parse_record(mapping: Any, line: int) -> Parsed:
    """Validate one JSON API record (``line`` = its index in the array + 1)."""
    if not isinstance(mapping, dict):
        return RowError(line, None, "expected a JSON object")
    try:
        return _build(mapping)
    except _Bad as bad:
        return RowError(line, bad.field, bad.message)


def _fast_csv_row(row: list[str], p: tuple[int, ...]) -> UsageRecord:
    """The common case of a clean CSV row, about 3x faster than ``_build``. It raises on
    anything unusual (then ``_build`` gives the precise error or accepts the odd form)."""
    if UNSTORABLE.search("".join(row)):  # NUL, or bytes that were not UTF-8: _build names it
        raise ValueError("not the common case")
    text = row[p[0]]
    if len(text) > 10 and text[4] == "-" and text[0].isdigit():
        timestamp = datetime.fromisoformat(text)
        timestamp = (
            timestamp.replace(tzinfo=UTC) if timestamp.tzinfo is None else timestamp.astimezone(UTC)
        )
    else:
        timestamp = parse_timestamp(text)
    provider = row[p[1]].strip().lower()
    model = row[p[2]].strip()
    input_tokens, output_tokens = int(row[p[3]]), int(row[p[4]])
    text = row[p[5]]
    cached = int(text) if text else 0
    text = row[p[6]]
    writes = int(text) if text else 0
    if (
        not provider
        or not model
        or len(provider) > _MAX_TEXT
        or len(model) > _MAX_TEXT
        or not 0 <= input_tokens <= MAX_TOKENS
        or not 0 <= output_tokens <= MAX_TOKENS
        or cached < 0
        or writes < 0
        or cached + writes > input_tokens
    ):
        raise ValueError("not the common case")
    text = row[p[7]]
    latency = float(text) if text else None
    status = row[p[8]] or "ok"
    text = row[p[9]]
    cost = float(text) if text else None
    if status not in _STATUSES or (latency is not None and not 0 <= latency <= MAX_LATENCY_MS):
        raise ValueError("not the common case")
    if cost is not None and not 0 <= cost <= MAX_COST_USD:
        raise ValueError("not the common case")
    feature, user, prompt_hash, request_id, retry_of = (row[i].strip() or None for i in p[10:15])
    for value in (feature, user, prompt_hash, request_id, retry_of):
        if value is not None and len(value) > _MAX_TEXT:
            raise ValueError("not the common case")
    flag = row[p[15]].lower()
    if flag not in _TRUE and flag not in _FALSE:
        raise ValueError("not the common case")
    text = row[p[16]]
    requests = int(text) if text else 1
    conversation = row[p[17]].strip() or None
    text = row[p[18]]
    writes_1h = int(text) if text else 0
    if (
        not 1 <= requests <= MAX_TOKENS
        or not 0 <= writes_1h <= writes
        or (conversation is not None and len(conversation) > _MAX_TEXT)
    ):
        raise ValueError("not the common case")
    return UsageRecord(
        timestamp,
        provider,
        model,
        input_tokens,
        output_tokens,
        cached,
        writes,
        latency,
        status,
        cost,
        feature,
        user,
        prompt_hash,
        request_id,
        retry_of,
        flag in _TRUE,
        requests,
        conversation,
        writes_1h,
    )


def iter_csv(lines: Iterable[str] | TextIO, *, source: str = "<input>") -> Iterator[Parsed]:
    """Stream a CSV with a header row. ``source`` names the input in messages."""
    reader = csv.reader(iter(lines))
    header: list[str] | None = None
    for row in reader:
        if not row or (len(row) == 1 and not row[0].strip()):
            continue  # blank line
        if header is None:
            if len(row) > MAX_CSV_COLUMNS:
                yield RowError(
                    reader.line_num,
                    None,
                    f"{source}: header has {len(row)} columns; at most {MAX_CSV_COLUMNS}",
                )
                return
            header = [name.strip().lstrip("\ufeff").lower() for name in row]
            missing = [field for field in REQUIRED_FIELDS if field not in header]
            if missing:
                yield RowError(
                    reader.line_num,
                    missing[0],
                    f"{source}: header lacks required column(s) {', '.join(missing)}",
                )
                return
            index = {name: i for i, name in enumerate(header) if name in FIELDS}
            width = len(header)
            positions = tuple(index.get(name, width) for name in FIELDS)
            continue
        line = reader.line_num
        if len(row) > width:
            yield RowError(line, None, f"{len(row)} values for {width} columns")
            continue
        if len(row) < width:
            row += [""] * (width - len(row))
        row.append("")  # absent columns point here
        try:
            yield _fast_csv_row(row, positions)
            continue
        except Exception:  # anything unusual: the careful path decides, with its message
            pass
        values = {name: row[i] for name, i in index.items()}
        try:
            yield _build(values)
        except _Bad as bad:
            yield RowError(line, bad.field, bad.message)
    if header is None:
        yield RowError(1, None, f"{source}: empty file (no CSV header)")


def iter_jsonl(lines: Iterable[str] | TextIO, *, source: str = "<input>") -> Iterator[Parsed]:
    """Stream JSON Lines: one JSON object per line; blank lines are skipped."""
    for number, text in enumerate(lines, start=1):
        if not text.strip():
            continue
        try:
            obj = json.loads(text)
        except ValueError as exc:
            yield RowError(number, None, f"invalid JSON: {exc}")
            continue
        yield parse_record(obj, number)


def sniff_format(filename: str | None, first_bytes: bytes) -> Literal["csv", "jsonl"]:
    """Decide CSV or JSON Lines from the file name, then from the first bytes."""
    name = (filename or "").lower()
    if name.endswith((".jsonl", ".ndjson", ".json")):
        return "jsonl"
    if name.endswith((".csv", ".tsv")):
        return "csv"
    head = first_bytes.lstrip(b"\xef\xbb\xbf").lstrip()
    return "jsonl" if head.startswith(b"{") else "csv"
