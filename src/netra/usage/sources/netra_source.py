"""``netra``: the usage record of API.md as CSV, JSON Lines, a JSON array or
``{"records": [...]}``. CSV and JSON Lines go through ``usage.parse`` (its fast paths); the
adapter only notes the unknown columns / keys."""

from __future__ import annotations

import json
import re
from collections.abc import Iterator

from netra.records.record import FIELDS, REQUIRED_FIELDS
from netra.usage.parse import Parsed, iter_csv, iter_jsonl, parse_record
from netra.usage.sources.base import Notes, Unit
from netra.usage.sources.source import Source

_KEY = re.compile(r'"((?:[^"\\]|\\.)*)"\s*:')


class NetraSource(Source):
    name = "netra"
    title = "Netra usage records"
    expects = f"columns / keys {', '.join(REQUIRED_FIELDS)}"
    known = frozenset(FIELDS)

    def recognise(self, keys: frozenset[str], unit: Unit | None) -> bool:
        if unit is not None and unit.path.startswith("records["):
            return True
        # Most of the required fields: a file with one of them misspelled is still ours, so
        # the parser can name the missing column instead of "unknown layout".
        return len(keys & frozenset(REQUIRED_FIELDS)) >= 3

    def rows(self, unit: Unit, notes: Notes) -> Iterator[Parsed]:
        if not unit.data.keys() <= self.known:
            notes.ignore(unit.data, self.known)
        yield parse_record(dict(unit.data), unit.line)

    def csv_lines(
        self, lines: Iterator[str], header: list[str], notes: Notes, name: str
    ) -> Iterator[Parsed]:
        notes.ignore((h.lower() for h in header), self.known)
        return iter_csv(lines, source=name)

    def jsonl_lines(self, lines: Iterator[str], notes: Notes, name: str) -> Iterator[Parsed]:
        return iter_jsonl(self.noting(lines, notes), source=name)

    def noting(self, lines: Iterator[str], notes: Notes) -> Iterator[str]:
        """Pass the lines on, noting unknown keys: a cheap scan of each line's keys, confirmed
        by parsing the line only when a key not seen before shows up."""
        seen: set[str] = set(self.known)
        for text in lines:
            candidates = _KEY.findall(text)
            if not seen.issuperset(candidates):
                try:
                    obj = json.loads(text)
                except ValueError:
                    obj = None
                if isinstance(obj, dict):
                    notes.ignore(obj, frozenset(seen))
                    seen.update(obj)
                seen.update(candidates)  # a false candidate (inside a value) is not retried
            yield text


NETRA = NetraSource()
