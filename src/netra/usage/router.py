"""HTTP endpoints of the usage domain (API.md "Backend"): ingest.

Ingest modes (documented here and in the OpenAPI descriptions):
- default, per row: good rows stored, bad rows listed with line, field and reason. An upload
  commits every ``BATCH_SIZE`` rows, so an interrupted upload keeps its committed batches.
- ``?atomic=true``: the whole call is one transaction, stored only when no row is rejected;
  otherwise 422 with the rejected rows and nothing stored.
At most ``MAX_LISTED`` rejected rows are listed; ``rejected_count`` is always the total.
"""

from __future__ import annotations

import csv
import json
from collections.abc import Iterable, Iterator
from typing import Any, Literal

import anyio.to_thread
from fastapi import APIRouter, Depends, Query, Request
from fastapi.responses import JSONResponse
from sqlalchemy.ext.asyncio import AsyncSession

from netra.auth.deps import require
from netra.billing.budget_checks import schedule_budget_check
from netra.core.audit import record_audit, request_ip
from netra.core.context import UserContext
from netra.core.deps import RuntimeDep
from netra.core.errors import BadInput, TooLarge, ValidationFailed
from netra.core.http_errors import error_body
from netra.core.runtime import Runtime
from netra.records.record import RowError, UsageRecord
from netra.usage.ingest import (
    BatchWriter,
    IngestResult,
    RejectedRows,
    ingest_in_thread,
    ingest_records,
)
from netra.usage.parse import iter_csv, iter_jsonl, parse_record, sniff_format
from netra.usage.stream import FileChunks, LineReader, multipart_boundary
from netra.usage.unavailable import database_errors_as_503

BATCH_SIZE = 5000
MAX_LISTED = 1000
BYTES_PER_RECORD = 4096  # JSON body cap: usage_max_records_per_call records of this size

_RAW_TYPES = {
    "text/csv": "csv",
    "application/csv": "csv",
    "application/x-ndjson": "jsonl",
    "application/jsonl": "jsonl",
    "application/x-jsonlines": "jsonl",
}

router = APIRouter(prefix="/api/v1", tags=["usage"], dependencies=[Depends(database_errors_as_503)])


async def _after_ingest(
    runtime: Runtime,
    org_id: str,
    result: IngestResult,
    *,
    audit: tuple[UserContext, Request, str] | None = None,
) -> None:
    """New usage may cross a budget: have it checked in the background (coalesced per org).

    With ``audit`` (who, the request, which endpoint), the upload is in the audit log.
    """
    if audit is not None:
        user, request, via = audit

        async def note(session: AsyncSession) -> None:
            record_audit(
                session, "usage.upload", org_id=org_id, user_id=user.user_id,
                ip=request_ip(request), via=via, accepted=result.accepted,
                duplicates=result.duplicates, rejected=result.rejected_count,
            )  # fmt: skip

        # The rows were stored by the ingest's own batches: the record follows them.
        await runtime.db.run(note)
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


async def _read_json_body(request: Request, limit: int) -> Any:
    declared = request.headers.get("content-length")
    if declared and declared.isdigit() and int(declared) > limit:
        raise TooLarge(f"request body larger than {limit} bytes")
    body = bytearray()
    async for chunk in request.stream():
        body += chunk
        if len(body) > limit:
            raise TooLarge(f"request body larger than {limit} bytes")
    try:
        return json.loads(body)
    except ValueError as exc:
        raise BadInput(f"request body is not valid JSON: {exc}") from None
    except RecursionError:
        raise BadInput("request body is nested too deeply") from None


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
    max_records = runtime.settings.usage_max_records_per_call
    payload = await _read_json_body(request, max_records * BYTES_PER_RECORD)
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
    await _after_ingest(runtime, user.org_id, result, audit=(user, request, "usage"))
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
    chunks = FileChunks(request.stream(), boundary)
    head = await chunks.peek()
    fmt = format or raw_format or sniff_format(chunks.filename, head)
    source = chunks.filename or "upload"

    def produce(lines: LineReader) -> Iterable[UsageRecord | RowError]:
        if fmt == "jsonl":
            return _guarded(iter_jsonl(lines, source=source), lines)
        return _guarded(iter_csv(lines, source=source), lines)

    result = IngestResult(max_listed=MAX_LISTED)
    writer = BatchWriter(runtime.db, user.org_id, result, metrics=runtime.metrics, atomic=atomic)
    try:
        async with writer:
            await ingest_in_thread(produce, chunks.next_chunk, writer, BATCH_SIZE)
    except RejectedRows:
        return _outcome(result, writer, rejected=True)
    except BadInput as exc:
        # The file broke off (framing, an endless line): say what was stored before that.
        writer.count_rejected()
        if not atomic:
            await _after_ingest(runtime, user.org_id, result, audit=(user, request, "upload"))
        stored = {"accepted": 0, "duplicates": 0} if atomic else {}
        raise BadInput(exc.message, details={**result.as_dict(), **stored}) from None
    await _after_ingest(runtime, user.org_id, result, audit=(user, request, "upload"))
    return _outcome(result, writer, rejected=False)
