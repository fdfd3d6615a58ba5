"""``anthropic-usage``: Anthropic's Admin API messages usage report
(``GET /v1/organizations/usage_report/messages``): ``{"data": [buckets], "has_more",
"next_page"}``, a bucket ``{"starting_at", "ending_at", "results": [...]}`` (one report, or JSON
Lines of report pages).

Each result is one row. Anthropic counts the prompt in parts: ``input_tokens`` = uncached +
cache reads + 5-minute + 1-hour cache creation (API.md counts every prompt token);
``cached_input_tokens`` = ``cache_read_input_tokens``; ``cache_write_tokens`` = both creation
lifetimes, ``cache_write_1h_tokens`` the one-hour part (priced as such). ``batch`` when
``service_tier`` is ``batch``. ``feature`` = the workspace.

The report does not count requests. Prices depend on each call's prompt size (long context
above 200k tokens), and the report names that tier itself in ``context_window``: ``requests``
is set to the fewest calls that keep the row's average prompt inside the named tier (so a
``0-200k`` row is never priced as long context, a ``200k-1M`` row always is); without
``context_window`` a row counts as one call.
"""

from __future__ import annotations

import math
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
    nested,
    record,
    stable_id,
    text,
)
from netra.usage.sources.source import Refusal, Source, first_result

LONG_CONTEXT = 200_000
_RESULT = frozenset(
    {
        "uncached_input_tokens",
        "cache_read_input_tokens",
        "cache_creation",
        "cache_creation_5m_input_tokens",
        "cache_creation_1h_input_tokens",
        "output_tokens",
        "server_tool_use",
        "model",
        "service_tier",
        "context_window",
        "workspace_id",
        "api_key_id",
        "account_id",
        "service_account_id",
        "inference_geo",
        "speed",
    }
)


class AnthropicUsage(Source):
    name = "anthropic-usage"
    title = "Anthropic Admin API messages usage report"
    expects = (
        "keys data[].starting_at, data[].results[].uncached_input_tokens, "
        "cache_read_input_tokens, cache_creation, output_tokens, model"
    )
    known = _RESULT

    def recognise(self, keys: frozenset[str], unit: Unit | None) -> bool:
        return (
            "uncached_input_tokens" in first_result(unit)
            or {
                "uncached_input_tokens",
                "output_tokens",
            }
            <= keys
        )

    def rows(self, unit: Unit, notes: Notes) -> Iterator[Parsed]:
        data = unit.data
        if isinstance(data.get("data"), list):  # a whole report page per line
            for b, bucket in enumerate(data["data"]):
                if isinstance(bucket, Mapping):
                    yield from self._bucket(bucket, unit.line, f"data[{b}]", notes)
        elif isinstance(data.get("results"), list):
            yield from self._bucket(data, unit.line, unit.path, notes)
        else:
            yield from self._result(data, data.get("starting_at"), unit.line, "", notes)

    def _bucket(
        self, bucket: Mapping[str, Any], line: int, where: str, notes: Notes
    ) -> Iterator[Parsed]:
        for r, result in enumerate(bucket.get("results") or []):
            if isinstance(result, Mapping):
                path = f"{where + '.' if where else ''}results[{r}]."
                yield from self._result(result, bucket.get("starting_at"), line, path, notes)

    def _result(
        self, row: Mapping[str, Any], start: Any, line: int, path: str, notes: Notes
    ) -> Iterator[Parsed]:
        if not row.keys() <= _RESULT:
            notes.ignore(row, _RESULT)
        try:
            mapping = _mapping(row, start, path)
        except FieldError as bad:
            yield RowError(line, bad.field, bad.message)
            return
        if mapping is None:
            notes.skipped += 1
            return
        yield record(mapping, line, {k: path + v for k, v in _NAMES.items()})


def _mapping(row: Mapping[str, Any], start: Any, path: str) -> dict[str, Any] | None:
    uncached = count(row.get("uncached_input_tokens"), path + "uncached_input_tokens")
    reads = count(row.get("cache_read_input_tokens"), path + "cache_read_input_tokens")
    creation = nested(row.get("cache_creation"), path + "cache_creation")
    five = count(
        creation.get("ephemeral_5m_input_tokens", row.get("cache_creation_5m_input_tokens")),
        path + "cache_creation.ephemeral_5m_input_tokens",
    )
    hour = count(
        creation.get("ephemeral_1h_input_tokens", row.get("cache_creation_1h_input_tokens")),
        path + "cache_creation.ephemeral_1h_input_tokens",
    )
    output = count(row.get("output_tokens"), path + "output_tokens")
    prompt = uncached + reads + five + hour
    if prompt == 0 and output == 0:
        return None
    if absent(row.get("model")):
        raise FieldError(path + "model", "missing: group the report by model (group_by=model)")
    window = text(row.get("context_window"))
    tier = text(row.get("service_tier")) or ""
    return {
        "timestamp": start,
        "provider": "anthropic",
        "model": row.get("model"),
        "input_tokens": prompt,
        "output_tokens": output,
        "cached_input_tokens": reads,
        "cache_write_tokens": five + hour,
        "cache_write_1h_tokens": hour,
        "requests": calls_for_window(prompt, window),
        "batch": tier.lower() == "batch",
        "feature": text(row.get("workspace_id")),
        "request_id": stable_id(
            "anthropic-usage",
            start,
            row.get("workspace_id"),
            row.get("api_key_id"),
            row.get("account_id"),
            row.get("service_account_id"),
            row.get("model"),
            tier,
            window,
            row.get("inference_geo"),
            row.get("speed"),
        ),
    }


def calls_for_window(prompt_tokens: int, window: str | None) -> int:
    """The fewest calls whose average prompt lies in the report's ``context_window``."""
    if window == "0-200k":
        return max(1, math.ceil(prompt_tokens / LONG_CONTEXT))
    if window is not None and window.lower().startswith("200k"):
        return max(1, prompt_tokens // (LONG_CONTEXT + 1))
    return 1


_NAMES = {
    "timestamp": "starting_at",
    "model": "model",
    "input_tokens": "uncached_input_tokens",
    "output_tokens": "output_tokens",
    "feature": "workspace_id",
}


class AnthropicCosts(Refusal):
    name = "anthropic-costs"
    message = (
        "this is an Anthropic cost report (/v1/organizations/cost_report): it has amounts but "
        "no token counts. Send the messages usage report instead: GET "
        "/v1/organizations/usage_report/messages?group_by[]=model&group_by[]=context_window"
    )

    def matches(self, keys: frozenset[str], unit: Unit | None) -> bool:
        result = first_result(unit)
        return "amount" in result and ("cost_type" in result or "token_type" in result)


ANTHROPIC_USAGE = AnthropicUsage()
ANTHROPIC_COSTS = AnthropicCosts()
