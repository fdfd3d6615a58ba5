"""``POST /v1/traces``: OTLP/HTTP trace export, authenticated by an API key with ``usage:write``.

Every LLM span becomes a usage record through the same ingest as uploads (validation,
deduplication on ``request_id``, batches, budget checks). The answer is OTLP's
``ExportTraceServiceResponse`` in the request's encoding; ``partialSuccess.rejectedSpans``
counts every span *not* stored as a record (spans that are not LLM calls, skipped, and LLM
spans refused), and ``errorMessage`` gives both counts and, for refused spans, which span and
why. Spans already stored (an exporter's retry) are neither stored again nor rejected.
Malformed bodies get the house error shape with 400 / 413 (see docs/api-keys-and-otlp.md).
"""

from __future__ import annotations

import anyio.to_thread
import structlog
from fastapi import APIRouter, Request, Response

from netra.auth.deps import require_api_key
from netra.core.context import UserContext
from netra.core.deps import RuntimeDep
from netra.core.openapi import responses
from netra.usage.ingest import BatchWriter, IngestResult, ingest_records
from netra.usage.otlp_spans import SpanRows, spans_to_rows
from netra.usage.otlp_wire import (
    JSON,
    PROTOBUF,
    body_encoding,
    decode_request,
    decompress,
    response_body,
    spans_of,
)
from netra.usage.service import usage_stored
from netra.usage.stream import read_capped, with_read_deadline

BATCH_SIZE = 5000
MAX_EXPLAINED = 20  # refused spans named in errorMessage (the count is always complete)

router = APIRouter(tags=["otlp"])
log = structlog.get_logger("netra.usage.otlp")


def partial_success_message(rows: SpanRows, result: IngestResult) -> str:
    parts = []
    if rows.skipped:
        parts.append(f"{rows.skipped} span(s) are not LLM calls: skipped")
    if result.rejected_count:
        reasons = [
            f"span {rows.label(e.line)}: {e.field + ': ' if e.field else ''}{e.message}"
            for e in result.rejected[:MAX_EXPLAINED]
        ]
        more = result.rejected_count - len(reasons)
        tail = f"; and {more} more" if more > 0 else ""
        parts.append(f"{result.rejected_count} LLM span(s) refused: " + "; ".join(reasons) + tail)
    return "; ".join(parts)


@router.post(
    "/v1/traces",
    summary="OTLP/HTTP trace export: LLM spans become usage records (API key, usage:write)",
    description=__doc__,
    response_class=Response,
    responses={
        200: {
            "description": "ExportTraceServiceResponse (partialSuccess with rejected spans)",
            "content": {
                PROTOBUF: {"schema": {"type": "string", "format": "binary"}},
                JSON: {"schema": {"type": "object"}},
            },
        },
        **responses(400, 413, 415),
    },
    openapi_extra={
        "requestBody": {
            "required": True,
            "content": {
                PROTOBUF: {"schema": {"type": "string", "format": "binary"}},
                JSON: {"schema": {"type": "object"}},
            },
        }
    },
)
async def export_traces(
    request: Request,
    runtime: RuntimeDep,
    key: UserContext = require_api_key("usage:write"),
) -> Response:
    encoding = body_encoding(request.headers.get("content-type"))
    limit = runtime.settings.otlp_max_body_bytes
    body_chunks = with_read_deadline(request.stream(), runtime.settings.upload_read_timeout_s)
    raw = await read_capped(body_chunks, request.headers.get("content-length"), limit)
    content_encoding = request.headers.get("content-encoding")

    def read() -> SpanRows:  # CPU work (gunzip, protobuf, mapping): off the event loop
        body = decompress(raw, content_encoding, limit)
        return spans_to_rows(spans_of(decode_request(body, encoding)))

    rows = await anyio.to_thread.run_sync(read)
    result = IngestResult(max_listed=MAX_EXPLAINED)
    writer = BatchWriter(runtime.db, key.org_id, result, metrics=runtime.metrics)
    async with writer:
        await ingest_records(rows.rows, writer, BATCH_SIZE)
    writer.count_rejected()
    log.info(
        "otlp export",
        org_id=key.org_id,
        api_key_id=key.user_id,
        llm_spans=len(rows.rows),
        stored=result.accepted,
        duplicates=result.duplicates,
        skipped=rows.skipped,
        refused=result.rejected_count,
    )
    await usage_stored(runtime, key.org_id, result.accepted)
    body, media_type = response_body(
        rows.skipped + result.rejected_count, partial_success_message(rows, result), encoding
    )
    return Response(body, media_type=media_type)
