"""The shape of a source adapter, and of a refused (cost-only) export."""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Mapping
from typing import Any, ClassVar

from netra.records.record import RowError
from netra.usage.parse import Parsed
from netra.usage.sources.base import FieldError, Notes, Unit, record


def lowered(keys: Iterable[str]) -> frozenset[str]:
    return frozenset(k.strip().lower() for k in keys)


class Source:
    """One export format. ``recognise`` looks at a CSV header or the first JSON object;
    ``rows`` turns one unit (row, object, bucket, page) into records and row errors."""

    name: ClassVar[str]
    title: ClassVar[str]  # what the user exports, in words
    expects: ClassVar[str]  # the columns / keys that identify it (for "unknown layout")
    known: ClassVar[frozenset[str]]  # the fields it reads or knowingly leaves (not "ignored")

    def recognise(self, keys: frozenset[str], unit: Unit | None) -> bool:
        raise NotImplementedError

    def rows(self, unit: Unit, notes: Notes) -> Iterator[Parsed]:
        raise NotImplementedError

    def csv_lines(
        self, lines: Iterator[str], header: list[str], notes: Notes, name: str
    ) -> Iterator[Parsed] | None:
        """A faster path over a whole CSV's lines (the header included), or None."""
        return None

    def jsonl_lines(self, lines: Iterator[str], notes: Notes, name: str) -> Iterator[Parsed] | None:
        """A faster path over a whole JSON Lines file's lines, or None."""
        return None


class FlatSource(Source):
    """A source whose every unit (CSV row, JSON object) is one call: ``mapping`` turns its
    fields into a record's, ``field_names`` says which field of the source each came from (so
    a row error names the user's own column)."""

    def mapping(self, row: Mapping[str, Any]) -> dict[str, Any]:
        raise NotImplementedError

    def field_names(self) -> Mapping[str, str]:
        raise NotImplementedError

    def rows(self, unit: Unit, notes: Notes) -> Iterator[Parsed]:
        row = unit.data
        if not row.keys() <= self.known:
            notes.ignore(row, self.known)
        try:
            mapping = self.mapping(row)
        except FieldError as bad:
            yield RowError(unit.line, bad.field, bad.message)
            return
        yield record(mapping, unit.line, self.field_names())


class Refusal:
    """An export that has no token counts (a cost report): refused, naming what to send."""

    name: ClassVar[str]
    message: ClassVar[str]

    def matches(self, keys: frozenset[str], unit: Unit | None) -> bool:
        raise NotImplementedError


def first_result(unit: Unit | None) -> Mapping[str, Any]:
    """The first result of a usage/cost bucket, or of the first bucket of a page (JSON)."""
    if unit is None:
        return {}
    data: Any = unit.data
    if isinstance(data.get("data"), list) and data["data"]:
        data = data["data"][0]
    results = data.get("results") if isinstance(data, Mapping) else None
    if isinstance(results, list) and results and isinstance(results[0], Mapping):
        return results[0]
    return {}
