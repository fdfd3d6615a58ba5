"""The usage record: one LLM API call made by the customer's own software (API.md).

This is the shared shape between parsing, storage, pricing and the analysis engine.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Literal

Status = Literal["ok", "error", "timeout", "rate_limited"]
STATUSES: tuple[str, ...] = ("ok", "error", "timeout", "rate_limited")

REQUIRED_FIELDS: tuple[str, ...] = (
    "timestamp",
    "provider",
    "model",
    "input_tokens",
    "output_tokens",
)
OPTIONAL_FIELDS: tuple[str, ...] = (
    "cached_input_tokens",
    "cache_write_tokens",
    "latency_ms",
    "status",
    "cost_usd",
    "feature",
    "user",
    "prompt_hash",
    "request_id",
    "retry_of",
    "batch",
    "requests",
    "conversation_id",
    "cache_write_1h_tokens",
)
FIELDS: tuple[str, ...] = REQUIRED_FIELDS + OPTIONAL_FIELDS

# Upper bounds that keep a record storable (BIGINT columns) and its sums finite: one bad record
# must never make an organisation's totals overflow to infinity. Parsing refuses a record past
# them; readers treat a stored value past them (from before the bound) as absent.
MAX_TOKENS = 10**12
MAX_COST_USD = 1e9
MAX_LATENCY_MS = 1e9  # about 11.6 days


@dataclass(frozen=True, slots=True)
class UsageRecord:
    timestamp: datetime  # timezone-aware, UTC
    provider: str
    model: str
    input_tokens: int  # every prompt token, cached reads and cache writes included
    output_tokens: int
    cached_input_tokens: int = 0
    cache_write_tokens: int = 0
    latency_ms: float | None = None
    status: str = "ok"
    cost_usd: float | None = None  # as billed; None: priced from the catalogue
    feature: str | None = None
    user: str | None = None
    prompt_hash: str | None = None
    request_id: str | None = None
    retry_of: str | None = None
    batch: bool = False
    requests: int = 1  # calls this row adds up (provider usage reports are per bucket)
    conversation_id: str | None = None
    cache_write_1h_tokens: int = 0  # the part of cache_write_tokens with a one-hour lifetime


@dataclass(frozen=True, slots=True)
class RowError:
    """A rejected input row: where it was and what is wrong with it."""

    line: int  # 1-based line in the file (CSV header is line 1); index+1 in a JSON array
    field: str | None  # the offending field, or None when the row as a whole is unreadable
    message: str

    def as_dict(self) -> dict[str, object]:
        return {"line": self.line, "field": self.field, "message": self.message}
