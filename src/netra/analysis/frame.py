"""Usage records as a Polars frame: the engine's input shape.

One column per ``records.FIELDS`` entry, in that order; ``timestamp`` is a UTC ``Datetime``.
The engine never loops over records in Python: everything downstream is group-by/aggregate.
"""

from __future__ import annotations

from collections.abc import Iterable

import polars as pl

from netra.records.record import FIELDS, MAX_COST_USD, MAX_LATENCY_MS, UsageRecord

SCHEMA: dict[str, pl.DataType] = {
    "timestamp": pl.Datetime("us", "UTC"),
    "provider": pl.String(),
    "model": pl.String(),
    "input_tokens": pl.Int64(),
    "output_tokens": pl.Int64(),
    "cached_input_tokens": pl.Int64(),
    "cache_write_tokens": pl.Int64(),
    "latency_ms": pl.Float64(),
    "status": pl.String(),
    "cost_usd": pl.Float64(),
    "feature": pl.String(),
    "user": pl.String(),
    "prompt_hash": pl.String(),
    "request_id": pl.String(),
    "retry_of": pl.String(),
    "batch": pl.Boolean(),
    "requests": pl.Int64(),  # calls the row adds up (1: a single call)
    "conversation_id": pl.String(),
    "cache_write_1h_tokens": pl.Int64(),  # part of cache_write_tokens with a 1-hour lifetime
}
DEFAULTS: dict[str, object] = {
    "cached_input_tokens": 0,
    "cache_write_tokens": 0,
    "status": "ok",
    "batch": False,
    "requests": 1,
    "cache_write_1h_tokens": 0,
}
assert set(FIELDS) <= set(SCHEMA)  # the frame holds every record field


def empty_frame() -> pl.DataFrame:
    return pl.DataFrame(schema=SCHEMA)


def frame_from_records(records: Iterable[UsageRecord]) -> pl.DataFrame:
    """Build the frame column by column (one pass over the records)."""
    columns: dict[str, list[object]] = {name: [] for name in FIELDS}
    appenders = [(columns[name].append, name) for name in FIELDS]
    for record in records:
        for append, name in appenders:
            append(getattr(record, name))
    return conform(pl.DataFrame(columns, schema={name: SCHEMA[name] for name in FIELDS}))


_BOUNDED = {"cost_usd": MAX_COST_USD, "latency_ms": MAX_LATENCY_MS}


def conform(frame: pl.DataFrame) -> pl.DataFrame:
    """Cast a frame from elsewhere (a DB query, a test) to SCHEMA; missing optional columns get
    their defaults."""
    defaults = DEFAULTS
    exprs = []
    for name, dtype in SCHEMA.items():
        if name in frame.columns:
            expr = pl.col(name)
            if name in defaults:
                expr = expr.fill_null(defaults[name])
            expr = expr.cast(dtype)
            if name in _BOUNDED:
                # Defence in depth: a value stored before the parser's bounds (1e308, inf, NaN)
                # is absent, so one bad record never turns an org's totals into infinity.
                expr = pl.when(expr.is_between(0.0, _BOUNDED[name])).then(expr)
            exprs.append(expr.alias(name))
        else:
            exprs.append(pl.lit(defaults.get(name), dtype=dtype).alias(name))
    return frame.select(exprs)
