"""What every source adapter shares: the unit it reads, the notes it keeps, and the helpers that
turn a source's row into a validated usage record.

An adapter never validates a record itself: it builds the netra mapping (API.md field names) and
hands it to ``usage.parse.parse_record``, so every source gets the same rules and messages. A
failure is reported with the line of the row and the *source's* field name (``tokens_prompt``,
``data[2].results[0].num_model_requests``), so a user can find it in the file they sent.
"""

from __future__ import annotations

import hashlib
import json
import math
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from netra.records.record import RowError, UsageRecord
from netra.usage.parse import Parsed, parse_record, parse_timestamp


@dataclass(frozen=True, slots=True)
class Unit:
    """One object of the input: a CSV row (string values), a JSON Lines object, or an item of a
    JSON document. ``line`` is the file line (CSV, JSON Lines) or the item's position + 1 in its
    array (JSON document); ``path`` says where a JSON document's item sits (``data[3]``)."""

    line: int
    data: Mapping[str, Any]
    path: str = ""
    context: Mapping[str, Any] = field(default_factory=dict)


@dataclass
class Notes:
    """What a read learned besides the records: the source, the unknown fields (each listed
    once, in the order met) and the rows that hold no call (an empty usage bucket, a Langfuse
    span that is not an LLM generation)."""

    source: str | None = None
    ignored: dict[str, None] = field(default_factory=dict)
    skipped: int = 0

    def ignore(self, names: Iterable[str], known: frozenset[str], prefix: str = "") -> None:
        for name in names:
            if name not in known:
                key = f"{prefix}{name}"
                if key not in self.ignored:
                    self.ignored[key] = None

    @property
    def ignored_fields(self) -> list[str]:
        return list(self.ignored)


class FieldError(Exception):
    """A source value that cannot be read (internal: becomes a RowError naming the field)."""

    def __init__(self, field: str, message: str) -> None:
        super().__init__(message)
        self.field = field
        self.message = message


def absent(value: Any) -> bool:
    return value is None or (isinstance(value, str) and not value.strip())


def first(data: Mapping[str, Any], *names: str) -> tuple[str, Any]:
    """The first of ``names`` present with a value in ``data`` (name, value); else the first
    name and None."""
    for name in names:
        value = data.get(name)
        if not absent(value):
            return name, value
    return names[0], None


def count(value: Any, field: str) -> int:
    """A token or request count (``12``, ``12.0``, ``"12.0"``); absent is 0."""
    if absent(value):
        return 0
    if isinstance(value, bool):
        raise FieldError(field, "expected a whole number >= 0, got a boolean")
    try:
        number = float(value)
    except (TypeError, ValueError):
        raise FieldError(field, f"expected a whole number >= 0, got {value!r}") from None
    if not math.isfinite(number) or number < 0 or not number.is_integer():
        raise FieldError(field, f"expected a whole number >= 0, got {value!r}")
    return int(number)


def number(value: Any, field: str) -> float | None:
    """A non-negative number, or None when absent."""
    if absent(value):
        return None
    if isinstance(value, bool):
        raise FieldError(field, "expected a number >= 0, got a boolean")
    try:
        result = float(value)
    except (TypeError, ValueError):
        raise FieldError(field, f"expected a number >= 0, got {value!r}") from None
    if not math.isfinite(result) or result < 0:
        raise FieldError(field, f"expected a finite number >= 0, got {value!r}")
    return result


def timestamp(value: Any, field: str) -> datetime:
    if absent(value):
        raise FieldError(field, "missing required field")
    try:
        return parse_timestamp(value)
    except ValueError as exc:
        raise FieldError(field, str(exc)) from None


def nested(value: Any, field: str) -> Mapping[str, Any]:
    """A JSON object given as an object (JSON) or as JSON text (a CSV cell); absent is {}."""
    if absent(value):
        return {}
    if isinstance(value, Mapping):
        return value
    if isinstance(value, str):
        try:
            parsed = json.loads(value)
        except ValueError:
            raise FieldError(field, "expected a JSON object") from None
        if parsed is None:
            return {}
        if isinstance(parsed, Mapping):
            return parsed
    raise FieldError(field, "expected a JSON object")


def listed(value: Any, field: str) -> list[Any]:
    """A JSON array given as an array (JSON) or as JSON text (a CSV cell); absent is []."""
    if absent(value):
        return []
    if isinstance(value, list):
        return value
    if isinstance(value, str):
        try:
            parsed = json.loads(value)
        except ValueError:
            raise FieldError(field, "expected a JSON array") from None
        if isinstance(parsed, list):
            return parsed
    raise FieldError(field, "expected a JSON array")


def text(value: Any) -> str | None:
    if absent(value) or isinstance(value, Mapping | list):
        return None
    return str(value).strip()


def stable_id(source: str, *parts: Any) -> str:
    """A request id for a row that has none (a usage bucket): the same bucket always gets the
    same id, so sending an export twice stores it once."""
    key = "\x1f".join(map(str, parts)).encode("utf-8", "surrogateescape")  # bytes kept as read
    digest = hashlib.sha256(key).hexdigest()[:32]
    return f"{source}:{digest}"


def record(mapping: dict[str, Any], line: int, names: Mapping[str, str]) -> Parsed:
    """Validate the netra ``mapping`` of one source row; an error names the source's field
    (``names`` maps a netra field to it)."""
    parsed = parse_record(mapping, line)
    if isinstance(parsed, RowError) and parsed.field is not None and parsed.field in names:
        return RowError(parsed.line, names[parsed.field], parsed.message)
    return parsed


def guard_row(build: Iterator[Parsed], line: int) -> Iterator[Parsed]:
    """Run an adapter's row builder: a FieldError becomes the row's error."""
    try:
        yield from build
    except FieldError as bad:
        yield RowError(line, bad.field, bad.message)


def is_record(item: Parsed) -> bool:
    return isinstance(item, UsageRecord)
