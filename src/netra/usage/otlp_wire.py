"""The OTLP/HTTP trace wire format: a request body in, spans out; the response body back.

``application/x-protobuf`` and ``application/json`` (OTLP's JSON mapping: trace and span ids
in hex, enums as numbers or names, 64-bit integers as strings or numbers), each optionally
``Content-Encoding: gzip``. The body is capped before and after decompression, so a small
gzip bomb is refused as 413 like a large body. Everything unreadable is a 400 that says what
was expected (415 for a media type or content coding OTLP/HTTP does not define, as its
specification requires); nothing here knows about usage records.
"""

from __future__ import annotations

import base64
import binascii
import json
import zlib
from collections.abc import Iterator, Mapping
from typing import Any, Literal

from google.protobuf.json_format import MessageToDict, ParseDict, ParseError
from google.protobuf.message import DecodeError
from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import (
    ExportTraceServiceRequest,
    ExportTraceServiceResponse,
)
from opentelemetry.proto.common.v1.common_pb2 import AnyValue, KeyValue
from opentelemetry.proto.trace.v1.trace_pb2 import Status

from netra.core.errors import BadInput, TooLarge, UnsupportedMediaType
from netra.usage.otlp_spans import Span

Encoding = Literal["protobuf", "json"]
PROTOBUF = "application/x-protobuf"
JSON = "application/json"
_ID_FIELDS = ("traceId", "spanId", "parentSpanId")
_MAX_DEPTH = 8  # nested arrays / key-value lists in an attribute value


def body_encoding(content_type: str | None) -> Encoding:
    media = (content_type or "").split(";")[0].strip().lower()
    if media in (PROTOBUF, "application/protobuf"):
        return "protobuf"
    if media == JSON:
        return "json"
    raise UnsupportedMediaType(
        f"unsupported Content-Type {media or '(none)'!r}: send OTLP as {PROTOBUF} or {JSON}",
        details={"field": "Content-Type", "expected": [PROTOBUF, JSON]},
    )


def decompress(body: bytes, content_encoding: str | None, limit: int) -> bytes:
    coding = (content_encoding or "identity").strip().lower()
    if coding in ("identity", ""):
        return body
    if coding not in ("gzip", "x-gzip"):
        raise UnsupportedMediaType(
            f"unsupported Content-Encoding {coding!r}: send the body as is or gzip-compressed",
            details={"field": "Content-Encoding", "expected": ["gzip", "identity"]},
        )
    inflater = zlib.decompressobj(wbits=16 + zlib.MAX_WBITS)
    try:
        out = inflater.decompress(body, limit + 1)
    except zlib.error as exc:
        raise BadInput(f"the body is not valid gzip: {exc}") from None
    if len(out) > limit or inflater.unconsumed_tail:
        raise TooLarge(f"the decompressed body is larger than {limit} bytes")
    if not inflater.eof:
        raise BadInput("the gzip body is truncated")
    return out


def _ids_to_base64(node: Any, path: str) -> None:
    """OTLP/JSON writes ids in hex where protobuf's JSON mapping expects base64: convert them."""
    if isinstance(node, list):
        for i, item in enumerate(node):
            _ids_to_base64(item, f"{path}[{i}]")
    elif isinstance(node, dict):
        for key, value in node.items():
            if key in _ID_FIELDS and isinstance(value, str):
                try:
                    node[key] = base64.b64encode(bytes.fromhex(value)).decode()
                except ValueError:
                    raise BadInput(
                        f"{path}.{key}: expected a hex id, got {value[:40]!r}",
                        details={"field": f"{path}.{key}"},
                    ) from None
            elif isinstance(value, list | dict) and key != "attributes":
                _ids_to_base64(value, f"{path}.{key}")


def decode_request(body: bytes, encoding: Encoding) -> ExportTraceServiceRequest:
    request = ExportTraceServiceRequest()
    if encoding == "protobuf":
        try:
            request.ParseFromString(body)
        except (DecodeError, RecursionError) as exc:
            raise BadInput(f"not an OTLP ExportTraceServiceRequest (protobuf): {exc}") from None
        return request
    try:
        payload = json.loads(body)
    except (ValueError, RecursionError) as exc:
        raise BadInput(f"the body is not valid JSON: {exc}") from None
    if not isinstance(payload, dict):
        raise BadInput('expected an OTLP JSON object {"resourceSpans": [...]}')
    resource_spans = payload.get("resourceSpans")
    if isinstance(resource_spans, list) and any(
        isinstance(r, dict) and "instrumentationLibrarySpans" in r for r in resource_spans
    ):
        # OTLP before 0.15 (2021): its spans would be ignored as an unknown field, silently.
        raise BadInput(
            "instrumentationLibrarySpans is OTLP before 0.15: send scopeSpans "
            "(any OpenTelemetry SDK or Collector of the last years does)",
            details={"field": "resourceSpans[].instrumentationLibrarySpans"},
        )
    _ids_to_base64(resource_spans, "resourceSpans")
    try:
        ParseDict(payload, request, ignore_unknown_fields=True)
    except (ParseError, RecursionError) as exc:
        raise BadInput(f"not an OTLP ExportTraceServiceRequest (JSON): {exc}") from None
    return request


def _value(value: AnyValue, depth: int = 0) -> Any:
    kind = value.WhichOneof("value")
    if kind is None or depth > _MAX_DEPTH:
        return None
    if kind == "array_value":
        return [_value(v, depth + 1) for v in value.array_value.values]
    if kind == "kvlist_value":
        return {kv.key: _value(kv.value, depth + 1) for kv in value.kvlist_value.values}
    if kind == "bytes_value":
        return binascii.hexlify(value.bytes_value).decode()
    return getattr(value, kind)


def attributes(pairs: Iterator[KeyValue] | Any) -> dict[str, Any]:
    return {kv.key: _value(kv.value) for kv in pairs}


def spans_of(request: ExportTraceServiceRequest) -> Iterator[Span]:
    for resource_spans in request.resource_spans:
        resource: Mapping[str, Any] = attributes(resource_spans.resource.attributes)
        for scope_spans in resource_spans.scope_spans:
            for span in scope_spans.spans:
                yield Span(
                    name=span.name,
                    trace_id=span.trace_id.hex(),
                    span_id=span.span_id.hex(),
                    start_ns=span.start_time_unix_nano,
                    end_ns=span.end_time_unix_nano,
                    error=span.status.code == Status.STATUS_CODE_ERROR,
                    attributes=attributes(span.attributes),
                    resource=resource,
                )


def response_body(rejected: int, message: str, encoding: Encoding) -> tuple[bytes, str]:
    """OTLP's ExportTraceServiceResponse, in the request's encoding; ``partialSuccess`` only
    when something was not stored (an empty response means everything was)."""
    response = ExportTraceServiceResponse()
    if rejected or message:
        response.partial_success.rejected_spans = rejected
        response.partial_success.error_message = message
    if encoding == "protobuf":
        return response.SerializeToString(), PROTOBUF
    return json.dumps(MessageToDict(response)).encode(), JSON
