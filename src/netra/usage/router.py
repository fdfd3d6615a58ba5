"""HTTP endpoints of the usage domain (API.md "Backend"): ingest.

Uploads take any usage source of API.md ("Usage sources"): ``?source=auto`` (default)
recognises the export from its CSV header or JSON keys; the answer adds ``source``,
``ignored_fields`` (unknown columns, each once) and ``skipped`` (rows holding no call: empty
usage buckets, non-LLM observations). A file of unknown layout, or a cost-only export, is a 400
naming what was expected.

Ingest modes (documented here and in the OpenAPI descriptions):
- default, per row: good rows stored, bad rows listed with line, field and reason. An upload
  commits every ``BATCH_SIZE`` rows (a netra CSV / JSON Lines file: every chunk of about
  512 KiB), so an interrupted upload keeps its committed batches.
- ``?atomic=true``: the whole call is one transaction, stored only when no row is rejected;
  otherwise 422 with the rejected rows and nothing stored.
At most ``MAX_LISTED`` rejected rows are listed; ``rejected_count`` is always the total.

Limits: the JSON body is at most ``NETRA_USAGE_MAX_BODY_BYTES`` (413; send files by upload);
an upload that sends no bytes for ``NETRA_UPLOAD_READ_TIMEOUT_S`` gets 408; concurrent uploads
per user and per organisation are capped by the tier (429 with ``Retry-After``).
"""

from __future__ import annotations

import contextlib
import json
from collections.abc import Callable
from typing import Any, Literal

import anyio.to_thread
from fastapi import APIRouter, Query, Request
from fastapi.responses import JSONResponse
from sqlalchemy.ext.asyncio import AsyncSession

from netra.auth.deps import require
from netra.core.audit import record_audit, request_ip
from netra.core.context import UserContext
from netra.core.db import new_id
from netra.core.deps import RuntimeDep
from netra.core.errors import BadInput, TooLarge, ValidationFailed
from netra.core.http_errors import error_body
from netra.core.openapi import responses
from netra.core.runtime import Runtime
from netra.core.slots import Slots
from netra.records.record import FIELDS, RowError, UsageRecord
from netra.tiers import Limit, limits_for, refusal
from netra.usage.ingest import (
    BatchWriter,
    IngestResult,
    RejectedRows,
    ingest_in_thread,
    ingest_records,
)
from netra.usage.parse import parse_record
from netra.usage.schemas import IngestAnswer
from netra.usage.service import usage_stored
from netra.usage.sources import SOURCE_NAMES
from netra.usage.sources.base import Notes
from netra.usage.sources.framing import Layout
from netra.usage.sources.registry import check_source_name
from netra.usage.stream import FileChunks, Spool, multipart_boundary, with_read_deadline
from netra.usage.upload_parse import Guarded, parsed_upload

BATCH_SIZE = 5000
MAX_LISTED = 1000
UPLOAD_BUSY_RETRY_S = 5
KNOWN_FIELDS = frozenset(FIELDS)

_RAW_TYPES: dict[str, Layout] = {
    "text/csv": "csv",
    "application/csv": "csv",
    "application/x-ndjson": "jsonl",
    "application/jsonl": "jsonl",
    "application/x-jsonlines": "jsonl",
    "application/json": "json",
}


def refuse_non_text(head: bytes) -> None:
    """An empty or binary upload is a 400, not a 200 with one rejected row. Binary: more than
    one byte in 20 of the first bytes is NUL or not UTF-8 (compressed data, images, UTF-16); a
    stray bad byte in a text file is reported on its row instead."""
    if not head.lstrip(b"\xef\xbb\xbf").strip():
        raise BadInput("the file is empty: send a CSV with a header row, JSON Lines or JSON")
    text = head.decode("utf-8", "surrogateescape")
    bad = head.count(0) + sum(1 for ch in text if "\udc80" <= ch <= "\udcff")
    if bad * 20 > len(head):
        raise BadInput("the file is not text: send a CSV, JSON Lines or JSON file (UTF-8)")


router = APIRouter(prefix="/api/v1", tags=["usage"])


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
    await usage_stored(runtime, org_id, result.accepted)


def _outcome(
    result: IngestResult,
    writer: BatchWriter,
    rejected: bool,
    notes: Notes | None = None,
    extra: dict[str, Any] | None = None,
) -> JSONResponse:
    writer.count_rejected()
    extra = {**_notes(notes), **(extra or {})}
    if rejected:
        return JSONResponse(
            error_body(
                "validation_error",
                f"{result.rejected_count} row(s) rejected: nothing stored (atomic ingest)",
                {**result.as_dict(), "accepted": 0, "duplicates": 0, **extra},
            ),
            status_code=422,
        )
    return JSONResponse({**result.as_dict(), **extra})


def _notes(notes: Notes | None) -> dict[str, Any]:
    if notes is None:
        return {}
    return {
        "source": notes.source,
        "ignored_fields": notes.ignored_fields,
        "skipped": notes.skipped,
    }


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
    response_model=IngestAnswer,
    responses=responses(400, 408, 413),
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
    user: UserContext = require("usage:write", api_key=True),
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
    # Keys no record field has are named once in the answer: nothing is silently dropped.
    notes = Notes()

    def parse_all() -> list[UsageRecord | RowError]:
        for item in records:
            if isinstance(item, dict):
                notes.ignore(item, KNOWN_FIELDS)
        return [parse_record(item, n) for n, item in enumerate(records, start=1)]

    # Validation is CPU work (up to 10,000 records): off the event loop.
    items = await anyio.to_thread.run_sync(parse_all)
    extra = {"ignored_fields": notes.ignored_fields}
    try:
        async with writer:
            await ingest_records(items, writer, BATCH_SIZE)
    except RejectedRows:
        return _outcome(result, writer, rejected=True, extra=extra)
    await _after_ingest(runtime, user.org_id, result, audit=(user, request, "usage"))
    return _outcome(result, writer, rejected=False, extra=extra)


@router.post(
    "/usage/upload",
    summary="Upload a usage file of any source (CSV, JSON Lines or JSON; any size, streamed)",
    description=__doc__,
    response_model=IngestAnswer,
    responses=responses(400, 408, 413),
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
                "application/json": {"schema": {"type": "string"}},
            },
        }
    },
)
async def upload_usage(
    request: Request,
    runtime: RuntimeDep,
    user: UserContext = require("usage:write", api_key=True),
    atomic: bool = Query(False, description="store the whole file or nothing"),
    format: Literal["csv", "jsonl", "json"] | None = Query(
        None, description="layout: default sniffed from the content"
    ),
    source: str = Query(
        "auto",
        description=f"one of {', '.join(SOURCE_NAMES)}; auto recognises the export",
        json_schema_extra={"enum": list(SOURCE_NAMES)},
    ),
) -> JSONResponse:
    check_source_name(source)
    content_type = request.headers.get("content-type", "")
    boundary = multipart_boundary(content_type)
    raw_format = _RAW_TYPES.get(content_type.split(";")[0].strip().lower())
    if boundary is None and raw_format is None:
        raise BadInput(
            "send the file as multipart/form-data (field 'file'), or the raw body as "
            "text/csv, application/x-ndjson or application/json"
        )
    async with _upload_slot(runtime, user):
        return await _receive_and_ingest(
            request, runtime, user, atomic, format or (raw_format if boundary is None else None),
            source, boundary,
        )  # fmt: skip


@contextlib.asynccontextmanager
async def _upload_slot(runtime: Runtime, user: UserContext) -> Any:
    """One of the tier's concurrent upload slots for the user and for the organisation (shared
    by every replica), held while the upload runs; 429 when either is full."""
    limits = limits_for(runtime.settings, user.tier)
    slots, holder = Slots(runtime.cache, "upload"), new_id()
    taken: list[str] = []
    try:
        for owner, limit in (
            (f"user:{user.user_id}", Limit.UPLOADS_PER_USER),
            (f"org:{user.org_id}", Limit.UPLOADS_PER_ORG),
        ):
            key = await slots.acquire(owner, int(getattr(limits, limit.value)), holder)
            if key is None:
                raise refusal(limits, limit, retry_after_s=UPLOAD_BUSY_RETRY_S)
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
    layout: Layout | None,
    source: str,
    boundary: bytes | None,
) -> JSONResponse:
    body = with_read_deadline(request.stream(), runtime.settings.upload_read_timeout_s)
    chunks = FileChunks(body, boundary)
    refuse_non_text(await chunks.peek())
    streams: list[Guarded] = []

    def produce(next_chunk: Callable[[], bytes | None]) -> Guarded:
        stream = parsed_upload(
            next_chunk, filename=chunks.filename or "upload", source=source, layout=layout
        )
        streams.append(stream)
        return stream

    result = IngestResult(max_listed=MAX_LISTED)
    writer = BatchWriter(runtime.db, user.org_id, result, metrics=runtime.metrics, atomic=atomic)
    spool = Spool()
    try:
        # Received whole on the event loop first: the parsing thread never waits for a client.
        await spool.fill(chunks.next_chunk)
        async with writer:
            await ingest_in_thread(produce, spool.read_chunk, writer, BATCH_SIZE)
    except RejectedRows:
        return _outcome(result, writer, rejected=True, notes=streams[0].notes)
    except BadInput as exc:
        # Unknown layout, a cost-only export, or the file broke off (framing, an endless
        # line): say what was expected and what was stored before that.
        writer.count_rejected()
        if not atomic:
            await _after_ingest(runtime, user.org_id, result, audit=(user, request, "upload"))
        stored = {"accepted": 0, "duplicates": 0} if atomic else {}
        notes = _notes(streams[0].notes) if streams else {}
        details = {**(exc.details or {}), **result.as_dict(), **stored, **notes}
        raise BadInput(exc.message, details=details) from None
    finally:
        spool.close()
    await _after_ingest(runtime, user.org_id, result, audit=(user, request, "upload"))
    return _outcome(result, writer, rejected=False, notes=streams[0].notes)
