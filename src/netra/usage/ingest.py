"""Usage ingest: parsed rows in, batches stored, one honest count out.

Two modes (API.md leaves the choice to us; documented in ``docs`` of the endpoints):

- **per-row** (default): good rows are stored, bad rows are reported with their line, field and
  reason. An upload commits batch by batch (``batch_size`` rows each), so a failure half-way
  through a huge file keeps what was already committed; re-sending the file is safe because
  ``request_id`` deduplicates.
- **atomic** (``?atomic=true``): the whole call is one transaction, stored only if no row was
  rejected; otherwise nothing is stored and the rejected rows are reported (422).

Rejected rows are listed up to ``max_listed`` rows and ``max_report_bytes`` of text, each
message cut to ``MAX_MESSAGE_CHARS``; ``rejected_count`` always gives the total and
``rejected_truncated`` says when the list is shorter, so nothing is silently dropped and a huge
bad file never makes a huge answer.
"""

from __future__ import annotations

import asyncio
import math
from collections.abc import Callable, Iterable, Iterator
from contextlib import AsyncExitStack
from dataclasses import dataclass, field
from typing import Any, Protocol, TypeGuard

import anyio
import anyio.from_thread
import anyio.to_thread
import polars as pl
from sqlalchemy.ext.asyncio import AsyncSession

from netra.core.db import Database
from netra.core.observability import Metrics
from netra.records.record import RowError, UsageRecord
from netra.usage.repository import UsageRepository

MAX_BIGINT = 2**63 - 1
# What is stored at once: records, or a frame of them (the fast parser's).
Batch = list[UsageRecord] | pl.DataFrame
_TEXT_FIELDS = (
    "provider",
    "model",
    "feature",
    "user",
    "prompt_hash",
    "request_id",
    "retry_of",
    "conversation_id",
)
_INT_FIELDS = (
    "input_tokens",
    "output_tokens",
    "cached_input_tokens",
    "cache_write_tokens",
    "requests",
    "cache_write_1h_tokens",
)


def storable(record: UsageRecord, line: int) -> RowError | None:
    """What the database would refuse in a parsed record (so bad input never becomes a 500):
    NUL characters and invalid UTF-8 in text, integers beyond 64 bits, non-finite numbers."""
    r = record
    # Fast path, one check for every text field at once: nearly every record is plain ASCII.
    optional = (r.feature, r.user, r.prompt_hash, r.request_id, r.retry_of, r.conversation_id)
    texts = r.provider + r.model + "".join([t for t in optional if t])
    if not texts.isascii() or "\x00" in texts:
        for name in _TEXT_FIELDS:
            value = getattr(record, name)
            if value is None:
                continue
            if "\x00" in value:
                return RowError(line, name, "contains a NUL character")
            try:
                value.encode("utf-8")
            except UnicodeEncodeError:
                return RowError(line, name, "is not valid UTF-8")
    if max(r.input_tokens, r.output_tokens, r.cached_input_tokens, r.requests) > MAX_BIGINT:
        for name in _INT_FIELDS:
            if getattr(record, name) > MAX_BIGINT:
                return RowError(line, name, f"must be at most {MAX_BIGINT}")
    for name, value in (("latency_ms", r.latency_ms), ("cost_usd", r.cost_usd)):
        if value is not None and not math.isfinite(value):
            return RowError(line, name, "must be a finite number")
    return None


MAX_MESSAGE_CHARS = 300
MAX_FIELD_CHARS = 100


def _cut(text: str, limit: int) -> str:
    return text if len(text) <= limit else text[: limit - 1] + "\u2026"


@dataclass
class IngestResult:
    max_listed: int = 1000
    max_report_bytes: int = 256 * 1024
    accepted: int = 0
    duplicates: int = 0
    rejected: list[RowError] = field(default_factory=list)
    rejected_count: int = 0
    _listed_bytes: int = 0

    def reject(self, error: RowError) -> None:
        self.rejected_count += 1
        if len(self.rejected) >= self.max_listed or self._listed_bytes >= self.max_report_bytes:
            return
        message = _cut(error.message, MAX_MESSAGE_CHARS)
        name = None if error.field is None else _cut(error.field, MAX_FIELD_CHARS)
        if message is not error.message or name is not error.field:
            error = RowError(error.line, name, message)
        self._listed_bytes += len(message) + len(name or "") + 40  # 40: the JSON around them
        self.rejected.append(error)

    def as_dict(self) -> dict[str, Any]:
        return {
            "accepted": self.accepted,
            "duplicates": self.duplicates,
            "rejected": [e.as_dict() for e in self.rejected],
            "rejected_count": self.rejected_count,
            "rejected_truncated": self.rejected_count > len(self.rejected),
        }


class RejectedRows(Exception):
    """Raised inside an atomic ingest to roll the whole transaction back."""


class BatchWriter:
    """Stores batches for one org. Per-row mode: one unit of work per batch. Atomic mode: one
    unit of work for the whole call (opened on entry, committed on a clean exit).

    At most one batch is in flight while the caller prepares the next one, so parsing and the
    database work overlap without unbounded buffering.
    """

    def __init__(
        self,
        db: Database,
        org_id: str,
        result: IngestResult,
        *,
        metrics: Metrics | None = None,
        atomic: bool = False,
    ) -> None:
        self.db = db
        self.org_id = org_id
        self.result = result
        self.metrics = metrics
        self.atomic = atomic
        self._stack = AsyncExitStack()
        self._session: AsyncSession | None = None
        self._pending: asyncio.Task[None] | None = None
        self._stored_any = False
        # A batch with duplicates (a re-sent or overlapping file) suggests the next has some:
        # it goes to the deduplicating insert at once instead of trying COPY first.
        self._expect_new = True

    async def __aenter__(self) -> BatchWriter:
        if self.atomic:
            self._session = await self._stack.enter_async_context(self.db.unit_of_work())
        return self

    async def __aexit__(self, exc_type: object, exc: object, tb: object) -> None:
        try:
            if exc is None:
                await self.drain()
                if self.atomic and self.result.rejected_count:
                    raise RejectedRows()
                if self.atomic and self._session is not None and self._stored_any:
                    await UsageRepository(self._session, self.org_id).bump_version()
            elif self._pending is not None:
                self._pending.cancel()
                with anyio.CancelScope(shield=True):
                    await asyncio.gather(self._pending, return_exceptions=True)
        except BaseException as error:
            await self._stack.__aexit__(type(error), error, error.__traceback__)
            raise
        await self._stack.__aexit__(exc_type, exc, tb)  # type: ignore[arg-type]
        if self.atomic and exc is None:
            self._count("accepted", self.result.accepted)
            self._count("duplicate", self.result.duplicates)

    async def submit(self, batch: Batch) -> None:
        """Start storing ``batch`` (records, or a frame of them: ``analysis.frame.SCHEMA``)
        after the previous one finished (its errors surface here)."""
        await self.drain()
        self._pending = asyncio.ensure_future(self._store(batch))

    async def drain(self) -> None:
        if self._pending is not None:
            pending, self._pending = self._pending, None
            await pending

    async def _store(self, batch: Batch) -> None:
        if self._session is not None:
            inserted = await self._insert(UsageRepository(self._session, self.org_id), batch)
        else:

            async def work(session: AsyncSession) -> int:
                repo = UsageRepository(session, self.org_id)
                count = await self._insert(repo, batch)
                if count:
                    await repo.bump_version()
                return count

            inserted = await self.db.run(work)
            self._count("accepted", inserted)
            self._count("duplicate", len(batch) - inserted)
        self._stored_any = self._stored_any or inserted > 0
        self._expect_new = inserted == len(batch)
        self.result.accepted += inserted
        self.result.duplicates += len(batch) - inserted

    async def _insert(self, repo: UsageRepository, batch: Batch) -> int:
        if isinstance(batch, pl.DataFrame):
            return await repo.insert_frame(batch, expect_new=self._expect_new)
        return await repo.insert(batch, expect_new=self._expect_new)

    def _count(self, label: str, n: int) -> None:
        if self.metrics is not None and n:
            self.metrics.usage_records.labels(label).inc(n)

    def count_rejected(self) -> None:
        self._count("rejected", self.result.rejected_count)


def split_rows(
    items: Iterable[UsageRecord | RowError],
    result: IngestResult,
    batch_size: int,
    current_line: Callable[[], int] | None = None,
) -> Iterator[list[UsageRecord]]:
    """Batches of storable records; every rejected row goes to ``result``.

    ``current_line`` tells the input line of the record just parsed (the parsers are lazy, so
    it is the last line they read); without it the record's position (1-based) is its line.
    """
    batch: list[UsageRecord] = []
    for n, item in enumerate(items, start=1):
        if _kept(item, result, current_line() if current_line else n):
            batch.append(item)
            if len(batch) >= batch_size:
                yield batch
                batch = []
    if batch:
        yield batch


def _kept(item: UsageRecord | RowError, result: IngestResult, line: int) -> TypeGuard[UsageRecord]:
    """Whether ``item`` is a storable record; a rejected row goes to ``result``."""
    if isinstance(item, RowError):
        result.reject(item)
        return False
    problem = storable(item, line)
    if problem is not None:
        result.reject(problem)
        return False
    return True


def stream_batches(
    items: Iterable[UsageRecord | RowError | pl.DataFrame],
    result: IngestResult,
    batch_size: int,
    current_line: Callable[[], int],
) -> Iterator[Batch]:
    """Batches of a streamed file's rows: a frame of records the fast parser accepted
    (checked there: storable; one chunk of the file, bounded in bytes) is one batch, however
    many rows it holds (fewer, larger batches: less work per row in PostgreSQL); single
    records are gathered ``batch_size`` at a time, checked as in :func:`split_rows`; every
    rejected row goes to ``result``."""
    batch: list[UsageRecord] = []
    for item in items:
        if isinstance(item, pl.DataFrame):
            if batch:
                yield batch
                batch = []
            yield item
        elif _kept(item, result, current_line()):
            batch.append(item)
            if len(batch) >= batch_size:
                yield batch
                batch = []
    if batch:
        yield batch


async def ingest_records(
    items: Iterable[UsageRecord | RowError], writer: BatchWriter, batch_size: int
) -> None:
    """Store already-parsed rows (the JSON API: at most a few thousand, in memory)."""
    for batch in split_rows(items, writer.result, batch_size):
        await writer.submit(batch)


class ParsedStream(Protocol):
    """Parsed rows of a streamed file (records, rejected rows, frames of records) and where
    reading is (``line``)."""

    @property
    def line(self) -> int: ...

    def __iter__(self) -> Iterator[UsageRecord | RowError | pl.DataFrame]: ...


async def ingest_in_thread(
    produce: Callable[[Callable[[], bytes | None]], ParsedStream],
    read_chunk: Callable[[], bytes | None],
    writer: BatchWriter,
    batch_size: int,
) -> None:
    """Parse a received file in a worker thread, store its batches from the event loop.

    ``read_chunk`` returns the next bytes of a file already received (a :class:`Spool`),
    ``None`` at the end: the thread never waits for the network, only, between batches, for
    the previous batch to be stored. ``produce`` turns it into parsed rows.
    """

    def work() -> None:
        rows = produce(read_chunk)
        for batch in stream_batches(rows, writer.result, batch_size, lambda: rows.line):
            anyio.from_thread.run(writer.submit, batch)

    await anyio.to_thread.run_sync(work)
