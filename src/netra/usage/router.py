"""HTTP endpoints of the usage domain (API.md "Backend"): ingest.

Ingest modes (documented here and in the OpenAPI descriptions):
- default, per row: good rows stored, bad rows listed with line, field and reason. An upload
  commits every ``BATCH_SIZE`` rows, so an interrupted upload keeps its committed batches.
- ``?atomic=true``: the whole call is one transaction, stored only when no row is rejected;
  otherwise 422 with the rejected rows and nothing stored.
At most ``MAX_LISTED`` rejected rows are listed; ``rejected_count`` is always the total.

Limits: the JSON body is at most ``NETRA_USAGE_MAX_BODY_BYTES`` (413; send files by upload);
an upload that sends no bytes for ``NETRA_UPLOAD_READ_TIMEOUT_S`` gets 408; concurrent uploads
per user and per organisation are capped by the tier (429 with ``Retry-After``).
"""

from __future__ import annotations

import contextlib
import csv
import json
from collections.abc import Iterable, Iterator
from typing import Any, Literal

import anyio.to_thread
from fastapi import APIRouter, Depends, Query, Request
from fastapi.responses import JSONResponse

from netra.auth.deps import require
from netra.billing.budget_checks import schedule_budget_check
from netra.billing.tiers import limits_for
from netra.core.context import UserContext
from netra.core.db import new_id
from netra.core.deps import RuntimeDep
from netra.core.errors import BadInput, RateLimited, TooLarge, ValidationFailed
from netra.core.http_errors import error_body
from netra.core.runtime import Runtime
from netra.core.slots import Slots
from netra.records.record import RowError, UsageRecord
from netra.usage.ingest import (
    BatchWriter,
    IngestResult,
    RejectedRows,
    ingest_in_thread,
    ingest_records,
)
from netra.usage.parse import iter_csv, iter_jsonl, parse_record, sniff_format
from netra.usage.stream import (
    FileChunks,
    LineReader,
    Spool,
    multipart_boundary,
    with_read_deadline,
)
from netra.usage.unavailable import database_errors_as_503

BATCH_SIZE = 5000
MAX_LISTED = 1000
UPLOAD_BUSY_RETRY_S = 5

_RAW_TYPES = {
    "text/csv": "csv",
    "application/csv": "csv",
    "application/x-ndjson": "jsonl",
    "application/jsonl": "jsonl",
    "application/x-jsonlines": "jsonl",
}

router = APIRouter(prefix="/api/v1", tags=["usage"], dependencies=[Depends(database_errors_as_503)])


async def _after_ingest(runtime: Runtime, org_id: str, result: IngestResult) -> None:
    """New usage may cross a budget: have it checked in the background (coalesced per org)."""
    if result.accepted:
        await schedule_budget_check(runtime, org_id)


def _outcome(result: IngestResult, writer: BatchWriter, rejected: bool) -> JSONResponse:
    writer.count_rejected()
    if rejected:
        return JSONResponse(
            error_body(
                "validation_error",
                f"{result.rejected_count} row(s) rejected: nothing stored (atomic ingest)",
                {**result.as_dict(), "accepted": 0, "duplicates": 0},
            ),
            status_code=422,
        )
    return JSONResponse(result.as_dict())


def _too_large(limit: int) -> TooLarge:
    return TooLarge(
        f"request body larger than {limit} bytes (send files by /api/v1/usage/upload)",
        details={"max_bytes": limit},
    )


async def _read_json_body(request: Request, limit: int, read_timeout_s: float) -> Any:
    """The JSON body, read on the event loop up to ``limit`` bytes with a read deadline, then
    decoded in a worker thread (a few MB of JSON is CPU work the loop must not do)."""
    declared = request.headers.get("content-length")
    if declared and declared.isdigit() and int(declared) > limit:
        raise _too_large(limit)
    body = bytearray()
    async for chunk in with_read_deadline(request.stream(), read_timeout_s):
        body += chunk
        if len(body) > limit:
            raise _too_large(limit)

    def decode() -> Any:
        try:
            return json.loads(body)
        except ValueError as exc:
            raise BadInput(f"request body is not valid JSON: {exc}") from None
        except RecursionError:
            raise BadInput("request body is nested too deeply") from None

    return await anyio.to_thread.run_sync(decode)


@router.post(
    "/usage",
    summary="Ingest usage records (JSON, at most usage_max_records_per_call per call)",
    description=__doc__,
    openapi_extra={
        "requestBody": {
            "required": True,
            "content": {
                "application/json": {
                    "schema": {
                        "type": "object",
                        "properties": {"records": {"type": "array", "items": {"type": "object"}}},
                        "required": ["records"],
                    }
                }
            },
        }
    },
)
async def post_usage(
    request: Request,
    runtime: RuntimeDep,
    user: UserContext = require("usage:write"),
    atomic: bool = Query(False, description="store all records or none"),
) -> JSONResponse:
    settings = runtime.settings
    max_records = settings.usage_max_records_per_call
    payload = await _read_json_body(
        request, settings.usage_max_body_bytes, settings.upload_read_timeout_s
    )
    if not isinstance(payload, dict) or not isinstance(payload.get("records"), list):
        raise ValidationFailed(
            'expected a JSON object {"records": [...]}',
            details={"field": "records", "message": "expected a list of usage records"},
        )
    records: list[Any] = payload["records"]
    if len(records) > max_records:
        raise TooLarge(
            f"{len(records)} records in one call; at most {max_records} "
            "(use /api/v1/usage/upload for files of any size)",
            details={"records": len(records), "max_records": max_records},
        )
    result = IngestResult(max_listed=MAX_LISTED)
    writer = BatchWriter(runtime.db, user.org_id, result, metrics=runtime.metrics, atomic=atomic)
    # Validation is CPU work (up to 10,000 records): off the event loop.
    items = await anyio.to_thread.run_sync(
        lambda: [parse_record(item, n) for n, item in enumerate(records, start=1)]
    )
    try:
        async with writer:
            await ingest_records(items, writer, BATCH_SIZE)
    except RejectedRows:
        return _outcome(result, writer, rejected=True)
    await _after_ingest(runtime, user.org_id, result)
    return _outcome(result, writer, rejected=False)


def _guarded(rows: Iterable[UsageRecord | RowError], lines: LineReader) -> Iterator[Any]:
    """Turn a reader failure the parser does not report per row (a CSV field over the csv
    module's size limit, JSON nested too deeply) into a reported row instead of a 500; the
    parser cannot go on after it, so the report says where reading stopped."""
    try:
        yield from rows
    except (csv.Error, RecursionError) as exc:
        reason = "nested too deeply" if isinstance(exc, RecursionError) else str(exc)
        yield RowError(lines.line, None, f"unreadable ({reason}): the file was read up to here")


@router.post(
    "/usage/upload",
    summary="Upload a usage file (CSV or JSON Lines, any size, streamed)",
    description=__doc__,
    openapi_extra={
        "requestBody": {
            "required": True,
            "content": {
                "multipart/form-data": {
                    "schema": {
                        "type": "object",
                        "properties": {"file": {"type": "string", "format": "binary"}},
                        "required": ["file"],
                    }
                },
                "text/csv": {"schema": {"type": "string"}},
                "application/x-ndjson": {"schema": {"type": "string"}},
            },
        }
    },
)
async def upload_usage(
    request: Request,
    runtime: RuntimeDep,
    user: UserContext = require("usage:write"),
    atomic: bool = Query(False, description="store the whole file or nothing"),
    format: Literal["csv", "jsonl"] | None = Query(None, description="default: sniffed"),
) -> JSONResponse:
    content_type = request.headers.get("content-type", "")
    boundary = multipart_boundary(content_type)
    raw_format = _RAW_TYPES.get(content_type.split(";")[0].strip().lower())
    if boundary is None and raw_format is None:
        raise BadInput(
            "send the file as multipart/form-data (field 'file'), or the raw body as "
            "text/csv or application/x-ndjson"
        )
    async with _upload_slot(runtime, user):
        return await _receive_and_ingest(request, runtime, user, atomic, format, boundary,
                                         raw_format)  # fmt: skip


@contextlib.asynccontextmanager
async def _upload_slot(runtime: Runtime, user: UserContext) -> Any:
    """One of the tier's concurrent upload slots for the user and for the organisation (shared
    by every replica), held while the upload runs; 429 when either is full."""
    limits = limits_for(runtime.settings, user.tier)
    slots, holder = Slots(runtime.cache, "upload"), new_id()
    taken: list[str] = []
    try:
        for owner, limit, who in (
            (f"user:{user.user_id}", limits.uploads_per_user, "user"),
            (f"org:{user.org_id}", limits.uploads_per_org, "organisation"),
        ):
            key = await slots.acquire(owner, limit, holder)
            if key is None:
                raise RateLimited(
                    f"at most {limit} uploads at once per {who} on the {limits.tier} tier",
                    retry_after_s=UPLOAD_BUSY_RETRY_S,
                    details={"limit": limit, "scope": who, "tier": limits.tier},
                )
            taken.append(key)
    except BaseException:
        for key in taken:
            await slots.release(key, holder)
        raise
    async with slots.holding(taken, holder):
        yield


async def _receive_and_ingest(
    request: Request,
    runtime: Runtime,
    user: UserContext,
    atomic: bool,
    format: str | None,
    boundary: bytes | None,
    raw_format: str | None,
) -> JSONResponse:
    body = with_read_deadline(request.stream(), runtime.settings.upload_read_timeout_s)
    chunks = FileChunks(body, boundary)
    head = await chunks.peek()
    fmt = format or raw_format or sniff_format(chunks.filename, head)
    source = chunks.filename or "upload"

    def produce(lines: LineReader) -> Iterable[UsageRecord | RowError]:
        if fmt == "jsonl":
            return _guarded(iter_jsonl(lines, source=source), lines)
        return _guarded(iter_csv(lines, source=source), lines)

    result = IngestResult(max_listed=MAX_LISTED)
    writer = BatchWriter(runtime.db, user.org_id, result, metrics=runtime.metrics, atomic=atomic)
    spool = Spool()
    try:
        # Received whole on the event loop first: the parsing thread never waits for a client.
        await spool.fill(chunks.next_chunk)
        async with writer:
            await ingest_in_thread(produce, spool.read_chunk, writer, BATCH_SIZE)
    except RejectedRows:
        return _outcome(result, writer, rejected=True)
    except BadInput as exc:
        # The file broke off (framing, an endless line): say what was stored before that.
        writer.count_rejected()
        if not atomic:
            await _after_ingest(runtime, user.org_id, result)
        stored = {"accepted": 0, "duplicates": 0} if atomic else {}
        raise BadInput(exc.message, details={**result.as_dict(), **stored}) from None
    finally:
        spool.close()
    await _after_ingest(runtime, user.org_id, result)
    return _outcome(result, writer, rejected=False)
