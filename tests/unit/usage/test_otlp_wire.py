"""The OTLP/HTTP trace wire format: protobuf and JSON bodies (hex ids), gzip, caps, clear
refusals, and the ExportTraceServiceResponse answer."""

from __future__ import annotations

import gzip
import json
from typing import Any

import pytest
from google.protobuf.json_format import MessageToDict
from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import (
    ExportTraceServiceRequest,
    ExportTraceServiceResponse,
)
from opentelemetry.proto.common.v1.common_pb2 import AnyValue, KeyValue
from opentelemetry.proto.trace.v1.trace_pb2 import Status

from netra.core.errors import BadInput, TooLarge, UnsupportedMediaType
from netra.usage.otlp_wire import (
    body_encoding,
    decode_request,
    decompress,
    response_body,
    spans_of,
)

TRACE = "5b8efff798038103d269b633813fc60c"
SPAN = "eee19b7ec3c1b174"


def kv(key: str, value: Any) -> KeyValue:
    any_value = AnyValue()
    if isinstance(value, bool):
        any_value.bool_value = value
    elif isinstance(value, int):
        any_value.int_value = value
    elif isinstance(value, float):
        any_value.double_value = value
    elif isinstance(value, list):
        any_value.array_value.values.extend(AnyValue(string_value=v) for v in value)
    else:
        any_value.string_value = value
    return KeyValue(key=key, value=any_value)


def protobuf_request() -> ExportTraceServiceRequest:
    request = ExportTraceServiceRequest()
    rs = request.resource_spans.add()
    rs.resource.attributes.append(kv("service.name", "billing-api"))
    s = rs.scope_spans.add().spans.add()
    s.name = "chat gpt-4o"
    s.trace_id = bytes.fromhex(TRACE)
    s.span_id = bytes.fromhex(SPAN)
    s.start_time_unix_nano = 1_700_000_000_000_000_000
    s.end_time_unix_nano = 1_700_000_000_500_000_000
    s.status.code = Status.STATUS_CODE_ERROR
    s.attributes.extend(
        [
            kv("gen_ai.request.model", "gpt-4o"),
            kv("gen_ai.usage.input_tokens", 12),
            kv("gen_ai.request.temperature", 0.2),
            kv("gen_ai.request.stream", True),
            kv("gen_ai.response.finish_reasons", ["stop"]),
        ]
    )
    return request


def json_request() -> dict[str, Any]:
    return {
        "resourceSpans": [
            {
                "resource": {"attributes": [
                    {"key": "service.name", "value": {"stringValue": "billing-api"}}]},
                "scopeSpans": [{"scope": {"name": "t"}, "spans": [{
                    "traceId": TRACE, "spanId": SPAN, "parentSpanId": "",
                    "name": "chat gpt-4o", "kind": 3,
                    "startTimeUnixNano": "1700000000000000000",
                    "endTimeUnixNano": "1700000000500000000",
                    "attributes": [
                        {"key": "gen_ai.request.model", "value": {"stringValue": "gpt-4o"}},
                        {"key": "gen_ai.usage.input_tokens", "value": {"intValue": "12"}},
                        {"key": "gen_ai.request.temperature", "value": {"doubleValue": 0.2}},
                        {"key": "gen_ai.request.stream", "value": {"boolValue": True}},
                        {"key": "gen_ai.response.finish_reasons", "value": {
                            "arrayValue": {"values": [{"stringValue": "stop"}]}}},
                    ],
                    "links": [{"traceId": TRACE, "spanId": SPAN}],
                    "status": {"code": 2},
                    "someFutureField": {"x": 1},
                }]}],
            }
        ]
    }  # fmt: skip


def _check(request: ExportTraceServiceRequest) -> None:
    [span] = list(spans_of(request))
    assert (span.trace_id, span.span_id, span.name) == (TRACE, SPAN, "chat gpt-4o")
    assert span.error and span.end_ns - span.start_ns == 500_000_000
    assert span.resource == {"service.name": "billing-api"}
    assert span.attributes == {
        "gen_ai.request.model": "gpt-4o",
        "gen_ai.usage.input_tokens": 12,
        "gen_ai.request.temperature": 0.2,
        "gen_ai.request.stream": True,
        "gen_ai.response.finish_reasons": ["stop"],
    }


def test_protobuf_and_json_bodies_decode_to_the_same_spans() -> None:
    _check(decode_request(protobuf_request().SerializeToString(), "protobuf"))
    _check(decode_request(json.dumps(json_request()).encode(), "json"))


def test_content_types() -> None:
    assert body_encoding("application/x-protobuf") == "protobuf"
    assert body_encoding("application/json; charset=utf-8") == "json"
    for bad in (None, "text/plain", "multipart/form-data; boundary=x"):
        with pytest.raises(UnsupportedMediaType, match="application/x-protobuf"):
            body_encoding(bad)


def test_gzip_is_inflated_within_the_cap() -> None:
    body = protobuf_request().SerializeToString()
    assert decompress(gzip.compress(body), "gzip", 10_000) == body
    assert decompress(body, None, 10_000) == body
    bomb = gzip.compress(b"\0" * 5_000_000)
    assert len(bomb) < 10_000
    with pytest.raises(TooLarge):
        decompress(bomb, "gzip", 1_000_000)
    with pytest.raises(BadInput, match="gzip"):
        decompress(b"not gzip at all", "gzip", 10_000)
    with pytest.raises(BadInput, match="truncated"):
        decompress(gzip.compress(body)[:-12], "gzip", 10_000)
    with pytest.raises(UnsupportedMediaType, match="br"):
        decompress(body, "br", 10_000)


@pytest.mark.parametrize(
    ("body", "encoding", "match"),
    [
        (b"\xff\xff\xff\xff", "protobuf", "protobuf"),
        (b"{not json", "json", "JSON"),
        (b"[1, 2]", "json", "resourceSpans"),
        (b'{"resourceSpans": [{"scopeSpans": [{"spans": [{"traceId": "zz"}]}]}]}', "json",
         "hex id"),
        (b'{"resourceSpans": [{"scopeSpans": [{"spans": [{"startTimeUnixNano": "soon"}]}]}]}',
         "json", "JSON"),
        (b"[" * 100_000 + b"]" * 100_000, "json", "JSON"),
        (b'{"resourceSpans": [{"instrumentationLibrarySpans": [{"spans": [{}]}]}]}', "json",
         "scopeSpans"),
    ],
)  # fmt: skip
def test_unreadable_bodies_are_400s_saying_why(body: bytes, encoding: Any, match: str) -> None:
    with pytest.raises(BadInput, match=match):
        decode_request(body, encoding)


def test_the_answer_is_an_export_trace_service_response() -> None:
    body, media = response_body(3, "2 span(s) are not LLM calls: skipped", "protobuf")
    assert media == "application/x-protobuf"
    parsed = ExportTraceServiceResponse.FromString(body)
    assert parsed.partial_success.rejected_spans == 3
    assert "not LLM calls" in parsed.partial_success.error_message

    body, media = response_body(0, "", "json")
    assert (json.loads(body), media) == ({}, "application/json")
    body, _ = response_body(1, "span 'x': refused", "json")
    assert json.loads(body) == {
        "partialSuccess": {"rejectedSpans": "1", "errorMessage": "span 'x': refused"}
    }
    assert MessageToDict(ExportTraceServiceResponse()) == {}
