"""``openai-usage``: OpenAI's Usage API completions pages and the dashboard's usage CSV export.

- JSON: ``GET /v1/organization/usage/completions`` answers ``{"object": "page", "data":
  [buckets]}``; a bucket is ``{"object": "bucket", "start_time", "end_time", "results": [...]}``
  (one page, or JSON Lines of pages).
- CSV: the dashboard's Export (usage view), one row per bucket result with the same names plus
  ``start_time_iso``/``end_time_iso`` and the per-modality splits; counts may read ``10.0``.

Each result is one row: ``requests`` = ``num_model_requests``, ``input_tokens`` as reported (it
already includes cached tokens), ``cached_input_tokens`` = ``input_cached_tokens``, ``batch`` as
grouped, ``feature`` = the project (its name when the export has one), ``user`` = ``user_id``.
The timestamp is the bucket's start. A result must carry its ``model`` (export grouped by
model). A bucket without requests or tokens (the dashboard writes empty rows for quiet days) is
skipped, not stored. Buckets have no request id: the row's id is derived from the bucket and its
grouping, so sending the same export twice stores it once.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from typing import Any

from netra.records.record import RowError
from netra.usage.parse import Parsed
from netra.usage.sources.base import (
    FieldError,
    Notes,
    Unit,
    absent,
    count,
    first,
    record,
    stable_id,
    text,
)
from netra.usage.sources.source import Refusal, Source, first_result

_RESULT = frozenset(
    {
        "object",
        "start_time",
        "end_time",
        "start_time_iso",
        "end_time_iso",
        "project_id",
        "project_name",
        "num_model_requests",
        "user_id",
        "user_email",
        "api_key_id",
        "api_key_name",
        "api_key_redacted",
        "api_key_type",
        "model",
        "batch",
        "service_tier",
        "input_tokens",
        "output_tokens",
        "input_cached_tokens",
        "input_cache_write_tokens",
        "input_uncached_tokens",
        "input_text_tokens",
        "output_text_tokens",
        "input_cached_text_tokens",
        "input_audio_tokens",
        "input_cached_audio_tokens",
        "output_audio_tokens",
        "input_image_tokens",
        "input_cached_image_tokens",
        "output_image_tokens",
        "organization_id",
        "organization_name",
    }
)
_BUCKET = frozenset({"object", "start_time", "end_time", "results", "start_time_iso"})


class OpenAIUsage(Source):
    name = "openai-usage"
    title = "OpenAI Usage API completions pages or the dashboard usage CSV"
    expects = (
        "columns / keys start_time, num_model_requests, input_tokens, output_tokens, "
        "input_cached_tokens, model (JSON: {'object': 'page', 'data': [buckets with results]})"
    )
    known = _RESULT

    def recognise(self, keys: frozenset[str], unit: Unit | None) -> bool:
        if {"num_model_requests", "input_tokens", "output_tokens"} <= keys:
            return True  # a CSV row or a bare result
        result = first_result(unit)
        return "num_model_requests" in result

    def rows(self, unit: Unit, notes: Notes) -> Iterator[Parsed]:
        data = unit.data
        if isinstance(data.get("data"), list):  # a page (JSON Lines of pages)
            for b, bucket in enumerate(data["data"]):
                where = f"{unit.path + '.' if unit.path else ''}data[{b}]"
                if isinstance(bucket, Mapping):
                    yield from self._bucket(bucket, unit.line, where, notes)
            return
        if isinstance(data.get("results"), list):
            yield from self._bucket(data, unit.line, unit.path, notes)
            return
        yield from self._result(data, data.get("start_time"), unit.line, "", notes)

    def _bucket(
        self, bucket: Mapping[str, Any], line: int, where: str, notes: Notes
    ) -> Iterator[Parsed]:
        for r, result in enumerate(bucket.get("results") or []):
            path = f"{where + '.' if where else ''}results[{r}]."
            if isinstance(result, Mapping):
                yield from self._result(result, bucket.get("start_time"), line, path, notes)

    def _result(
        self, row: Mapping[str, Any], start: Any, line: int, path: str, notes: Notes
    ) -> Iterator[Parsed]:
        if not row.keys() <= _RESULT:
            notes.ignore(row, _RESULT)
        try:
            mapping = self._mapping(row, start, path)
        except FieldError as bad:
            yield RowError(line, bad.field, bad.message)
            return
        if mapping is None:
            notes.skipped += 1
            return
        names = {k: path + v for k, v in _NAMES.items()}
        yield record(mapping, line, names)

    def _mapping(self, row: Mapping[str, Any], start: Any, path: str) -> dict[str, Any] | None:
        requests = count(row.get("num_model_requests"), path + "num_model_requests")
        tokens = [row.get(k) for k in ("input_tokens", "output_tokens")]
        if requests == 0 and all(count(v, path + "input_tokens") == 0 for v in tokens):
            return None  # an empty bucket: no call to store
        _, ts = first(row, "start_time", "start_time_iso")
        if absent(ts):
            ts = start
        if absent(row.get("model")):
            raise FieldError(
                path + "model",
                "missing: export the usage grouped by model (group_by=model)",
            )
        project = text(row.get("project_name")) or text(row.get("project_id"))
        batch = row.get("batch")
        _, writes = first(row, "input_cache_write_tokens")
        return {
            "timestamp": ts,
            "provider": "openai",
            "model": row.get("model"),
            "input_tokens": row.get("input_tokens"),
            "output_tokens": row.get("output_tokens"),
            "cached_input_tokens": row.get("input_cached_tokens"),
            "cache_write_tokens": writes,
            "requests": requests or 1,
            "batch": False if absent(batch) else batch,
            "feature": project,
            "user": text(row.get("user_id")),
            "request_id": stable_id(
                "openai-usage",
                ts,
                row.get("end_time"),
                row.get("project_id"),
                row.get("user_id"),
                row.get("api_key_id"),
                row.get("model"),
                batch,
                row.get("service_tier"),
            ),
        }


_NAMES = {
    "timestamp": "start_time",
    "model": "model",
    "input_tokens": "input_tokens",
    "output_tokens": "output_tokens",
    "cached_input_tokens": "input_cached_tokens",
    "cache_write_tokens": "input_cache_write_tokens",
    "batch": "batch",
    "feature": "project_id",
    "user": "user_id",
}


class OpenAICosts(Refusal):
    name = "openai-costs"
    message = (
        "this is an OpenAI cost export (Costs API or the dashboard's cost CSV): it has amounts "
        "but no token counts. Send the usage export instead: the dashboard's Usage page in the "
        "Activity view, Export; or GET /v1/organization/usage/completions?group_by=model"
    )

    def matches(self, keys: frozenset[str], unit: Unit | None) -> bool:
        if {"amount_value", "line_item"} <= keys:
            return True
        result = first_result(unit)
        return result.get("object") == "organization.costs.result" or (
            "amount" in result and "line_item" in result
        )


OPENAI_USAGE = OpenAIUsage()
OPENAI_COSTS = OpenAICosts()
