"""I11 end to end: real OpenTelemetry clients export to a real ``netra serve`` (PostgreSQL and
Redis) with an API key, and the calls appear in ``/api/v1/usage/summary`` with their tokens:

- the ``opentelemetry-sdk`` with its OTLP/HTTP exporter (protobuf, gzip), GenAI spans;
- the official ``openai`` client instrumented by ``opentelemetry-instrumentation-openai-v2``,
  calling a local OpenAI-compatible server;
- OTLP/JSON with gzip; non-LLM spans skipped and counted in ``partialSuccess``;
- an API key never opens ``/ws``, bad bodies get clear 4xx, and no key reaches the log.
"""

from __future__ import annotations

import gzip
import json
import os
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import openai
import pytest
from opentelemetry.exporter.otlp.proto.common.trace_encoder import encode_spans
from opentelemetry.exporter.otlp.proto.http import Compression
from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter
from opentelemetry.instrumentation.openai_v2 import OpenAIInstrumentor
from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import ExportTraceServiceResponse
from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import BatchSpanProcessor, SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from opentelemetry.trace import Status, StatusCode
from websockets.exceptions import ConnectionClosed
from websockets.sync.client import connect

from support.accounts import bearer, signup_sync
from support.fake_openai import Script, fake_openai
from support.servers import ServerProcess, server
from support.services import (
    flush_redis_prefix,
    fresh_postgres_database,
    new_redis_prefix,
    redis_server_url,
)

BODY_CAP = 1024 * 1024  # NETRA_OTLP_MAX_BODY_BYTES of the server under test
KEYS_SEEN: list[str] = []  # every key the tests used: none may appear in the server's log


@pytest.fixture(scope="module")
def srv(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ServerProcess]:
    redis_url, prefix = redis_server_url(), new_redis_prefix()
    with fresh_postgres_database(migrate=False) as pg_url:
        env = {
            "NETRA_DATA_DIR": str(tmp_path_factory.mktemp("otlp")),
            "NETRA_DATABASE_URL": pg_url,
            "NETRA_REDIS_URL": redis_url,
            "NETRA_REDIS_PREFIX": prefix,
            "NETRA_OTLP_MAX_BODY_BYTES": str(BODY_CAP),
        }
        with server("serve", env) as proc:
            yield proc
    flush_redis_prefix(redis_url, prefix)


@dataclass
class Org:
    srv: ServerProcess
    owner: dict[str, str]
    writer: str  # usage:write key
    reader: str  # usage:read key

    def summary(self, group_by: str) -> list[dict[str, Any]]:
        r = httpx.get(
            f"{self.srv.url}/api/v1/usage/summary",
            params={"group_by": group_by},
            headers=bearer(self.reader),
            timeout=30,
        )
        assert r.status_code == 200, r.text
        return list(r.json()["groups"])

    def wait_for(self, group_by: str, key: str, records: int) -> dict[str, Any]:
        """The summary group ``key`` once it holds ``records`` rows (exports are async)."""
        deadline = time.monotonic() + 30
        groups: list[dict[str, Any]] = []
        while time.monotonic() < deadline:
            groups = self.summary(group_by)
            found = next((g for g in groups if g["key"] == key), None)
            if found is not None and found["records"] >= records:
                return found
            time.sleep(0.1)
        raise AssertionError(f"no group {key!r} with {records} records in {groups}")


def new_key(srv: ServerProcess, owner: dict[str, str], *scopes: str) -> str:
    r = httpx.post(
        f"{srv.url}/api/v1/api-keys",
        json={"name": "otel exporter", "scopes": list(scopes)},
        headers=owner,
        timeout=30,
    )
    assert r.status_code == 201, r.text
    key = str(r.json()["key"])
    KEYS_SEEN.append(key)
    return key


def new_org(srv: ServerProcess) -> Org:
    owner = bearer(signup_sync(srv.url, org_name=f"otlp-{uuid.uuid4().hex[:6]}")["access_token"])
    return Org(srv, owner, new_key(srv, owner, "usage:write"), new_key(srv, owner, "usage:read"))


def exporter(org: Org, **kwargs: Any) -> OTLPSpanExporter:
    return OTLPSpanExporter(
        endpoint=f"{org.srv.url}/v1/traces",
        headers={"Authorization": f"Bearer {org.writer}"},
        **kwargs,
    )


def test_sdk_genai_spans_appear_in_the_summary_with_their_tokens(srv: ServerProcess) -> None:
    org = new_org(srv)
    provider = TracerProvider(resource=Resource.create({"service.name": "support-bot"}))
    provider.add_span_processor(BatchSpanProcessor(exporter(org, compression=Compression.Gzip)))
    tracer = provider.get_tracer("netra-e2e")
    for i in range(5):
        with tracer.start_as_current_span("chat gpt-4o-mini") as span:
            span.set_attributes(
                {
                    "gen_ai.operation.name": "chat",
                    "gen_ai.provider.name": "openai",
                    "gen_ai.request.model": "gpt-4o-mini",
                    "gen_ai.usage.input_tokens": 1000 + i,
                    "gen_ai.usage.output_tokens": 100,
                    "gen_ai.usage.cache_read.input_tokens": 512,
                    "gen_ai.conversation.id": "conv-1",
                }
            )
    with tracer.start_as_current_span("anthropic.chat") as span:  # the older attribute names
        span.set_attributes(
            {
                "gen_ai.system": "anthropic",
                "gen_ai.request.model": "claude-sonnet-4-5",
                "gen_ai.usage.prompt_tokens": 2000,
                "gen_ai.usage.completion_tokens": 300,
                "netra.feature": "summaries",
            }
        )
    with tracer.start_as_current_span("GET /orders"):  # not an LLM call
        pass
    assert provider.force_flush(30_000)
    provider.shutdown()

    mini = org.wait_for("model", "gpt-4o-mini", 5)
    assert (mini["records"], mini["input_tokens"]) == (5, 5 * 1000 + 10)
    assert (mini["output_tokens"], mini["cached_input_tokens"]) == (500, 5 * 512)
    assert mini["cost_usd"] > 0
    claude = org.wait_for("model", "claude-sonnet-4-5", 1)
    assert (claude["input_tokens"], claude["output_tokens"]) == (2000, 300)
    features = {g["key"]: g["records"] for g in org.summary("feature")}
    assert features == {"support-bot": 5, "summaries": 1}
    assert sum(g["records"] for g in org.summary("provider")) == 6  # the GET span was skipped


def test_the_documented_environment_variables_configure_the_exporter(
    srv: ServerProcess, monkeypatch: pytest.MonkeyPatch
) -> None:
    org = new_org(srv)  # docs/api-keys-and-otlp.md, "Sending OpenTelemetry traces"
    monkeypatch.setenv("OTEL_EXPORTER_OTLP_TRACES_ENDPOINT", f"{srv.url}/v1/traces")
    monkeypatch.setenv("OTEL_EXPORTER_OTLP_TRACES_HEADERS", f"Authorization=Bearer%20{org.writer}")
    monkeypatch.setenv("OTEL_EXPORTER_OTLP_TRACES_COMPRESSION", "gzip")
    monkeypatch.setenv("OTEL_SERVICE_NAME", "env-configured")
    provider = TracerProvider(resource=Resource.create())
    provider.add_span_processor(BatchSpanProcessor(OTLPSpanExporter()))
    with provider.get_tracer("netra-e2e").start_as_current_span("chat gpt-4o") as span:
        span.set_attributes({"gen_ai.provider.name": "openai", "gen_ai.request.model": "gpt-4o"})
        span.set_attributes({"gen_ai.usage.input_tokens": 42, "gen_ai.usage.output_tokens": 7})
    assert provider.force_flush(30_000)
    provider.shutdown()
    group = org.wait_for("feature", "env-configured", 1)
    assert (group["input_tokens"], group["output_tokens"]) == (42, 7)


def test_the_instrumented_openai_client_is_tracked(srv: ServerProcess) -> None:
    org = new_org(srv)
    provider = TracerProvider(resource=Resource.create({"service.name": "assistant"}))
    provider.add_span_processor(BatchSpanProcessor(exporter(org)))
    instrumentor = OpenAIInstrumentor()
    instrumentor.instrument(tracer_provider=provider)
    try:
        usage = {"prompt_tokens": 1800, "completion_tokens": 120, "total_tokens": 1920,
                 "prompt_tokens_details": {"cached_tokens": 1024}}  # fmt: skip
        script = Script([{"content": "Cache it.", "model": "gpt-4o-2024-08-06", "usage": usage}])
        with fake_openai(script) as base_url:
            client = openai.OpenAI(base_url=base_url, api_key="sk-fake-for-tests", max_retries=0)
            for i in range(3):
                answer = client.chat.completions.create(
                    model="gpt-4o", messages=[{"role": "user", "content": f"question {i}"}]
                )
                assert answer.usage is not None and answer.usage.prompt_tokens == 1800
            assert len(script.requests) == 3
        assert provider.force_flush(30_000)
    finally:
        instrumentor.uninstrument()
        provider.shutdown()

    # The answering model (gpt-4o-2024-08-06) is summarised under its catalogue name.
    group = org.wait_for("model", "gpt-4o", 3)
    assert (group["records"], group["input_tokens"], group["output_tokens"]) == (3, 5400, 360)
    assert group["provider"] == "openai" and group["failed_records"] == 0
    assert group["cost_usd"] > 0
    assert [g["key"] for g in org.summary("feature")] == ["assistant"]


def _sdk_spans() -> bytes:
    """An OTLP protobuf body made by the SDK's own encoder: 2 LLM spans (one invalid) and
    one HTTP span."""
    memory = InMemorySpanExporter()
    provider = TracerProvider(resource=Resource.create({"service.name": "batch-job"}))
    provider.add_span_processor(SimpleSpanProcessor(memory))
    tracer = provider.get_tracer("netra-e2e")
    call = {"gen_ai.provider.name": "openai", "gen_ai.request.model": "gpt-4o"}
    with tracer.start_as_current_span("chat gpt-4o") as span:
        span.set_attributes(call)
        span.set_attributes({"gen_ai.usage.input_tokens": 700, "gen_ai.usage.output_tokens": 70})
        span.set_attribute("gen_ai.response.id", f"chatcmpl-{uuid.uuid4().hex}")
    with tracer.start_as_current_span("chat broken") as span:
        span.set_attributes(call)
        span.set_attributes({"gen_ai.usage.input_tokens": -3, "gen_ai.usage.output_tokens": 1})
    with tracer.start_as_current_span("POST /checkout") as span:
        span.set_status(Status(StatusCode.ERROR))
    provider.shutdown()
    return encode_spans(memory.get_finished_spans()).SerializeToString()


def test_partial_success_counts_skipped_and_refused_spans_and_a_retry_is_stored_once(
    srv: ServerProcess,
) -> None:
    org = new_org(srv)
    body = _sdk_spans()
    headers = {**bearer(org.writer), "Content-Type": "application/x-protobuf"}
    for _ in range(2):  # an exporter retrying the same batch
        r = httpx.post(f"{srv.url}/v1/traces", content=body, headers=headers, timeout=30)
        assert r.status_code == 200, r.text
        assert r.headers["content-type"] == "application/x-protobuf"
        partial = ExportTraceServiceResponse.FromString(r.content).partial_success
        assert partial.rejected_spans == 2
        assert "1 span(s) are not LLM calls: skipped" in partial.error_message
        assert "1 LLM span(s) refused: span 'chat broken'" in partial.error_message
        assert "gen_ai.usage.input_tokens" in partial.error_message
    group = org.wait_for("model", "gpt-4o", 1)
    assert (group["records"], group["input_tokens"]) == (1, 700)
    assert group["key"] == "gpt-4o" and group["requests"] == 1


def test_otlp_json_with_gzip(srv: ServerProcess) -> None:
    org = new_org(srv)
    now_ns = time.time_ns()
    payload = {
        "resourceSpans": [{
            "resource": {"attributes": [
                {"key": "service.name", "value": {"stringValue": "rag-service"}}]},
            "scopeSpans": [{"scope": {"name": "openinference"}, "spans": [
                {"traceId": uuid.uuid4().hex, "spanId": uuid.uuid4().hex[:16],
                 "name": "ChatCompletion", "kind": 1,
                 "startTimeUnixNano": str(now_ns - 2_000_000_000),
                 "endTimeUnixNano": str(now_ns - 1_500_000_000),
                 "attributes": [
                     {"key": "openinference.span.kind", "value": {"stringValue": "LLM"}},
                     {"key": "llm.provider", "value": {"stringValue": "openai"}},
                     {"key": "llm.model_name", "value": {"stringValue": "gpt-4.1-mini"}},
                     {"key": "llm.token_count.prompt", "value": {"intValue": "4321"}},
                     {"key": "llm.token_count.completion", "value": {"intValue": 21}},
                     {"key": "session.id", "value": {"stringValue": "sess-9"}}],
                 "status": {}},
                {"traceId": uuid.uuid4().hex, "spanId": uuid.uuid4().hex[:16],
                 "name": "retriever", "kind": 1,
                 "startTimeUnixNano": str(now_ns), "endTimeUnixNano": str(now_ns),
                 "attributes": [
                     {"key": "openinference.span.kind", "value": {"stringValue": "RETRIEVER"}}]},
            ]}],
        }]
    }  # fmt: skip
    r = httpx.post(
        f"{srv.url}/v1/traces",
        content=gzip.compress(json.dumps(payload).encode()),
        headers={
            **bearer(org.writer),
            "Content-Type": "application/json",
            "Content-Encoding": "gzip",
        },
        timeout=30,
    )
    assert r.status_code == 200, r.text
    assert r.json() == {
        "partialSuccess": {
            "rejectedSpans": "1",
            "errorMessage": "1 span(s) are not LLM calls: skipped",
        }
    }
    group = org.wait_for("model", "gpt-4.1-mini", 1)
    assert (group["input_tokens"], group["output_tokens"]) == (4321, 21)
    assert [g["key"] for g in org.summary("feature")] == ["rag-service"]


def test_bad_requests_get_clear_errors(srv: ServerProcess) -> None:
    org = new_org(srv)
    url = f"{srv.url}/v1/traces"
    proto = {"Content-Type": "application/x-protobuf"}

    def post(headers: dict[str, str], body: bytes = b"") -> httpx.Response:
        return httpx.post(url, content=body, headers=headers, timeout=30)

    assert post(proto).status_code == 401  # no credential
    r = post({**proto, **org.owner})  # a person's token: this endpoint takes API keys
    assert r.status_code == 401 and "API key" in r.json()["error"]["message"]
    r = post({**proto, **bearer(org.reader)})  # a key without usage:write
    assert r.status_code == 403 and "usage:write" in r.json()["error"]["message"]
    r = post({**bearer(org.writer), "Content-Type": "text/plain"}, b"hello")
    assert r.status_code == 415 and "application/x-protobuf" in r.json()["error"]["message"]
    r = post({**bearer(org.writer), **proto}, b"\xff\xff\xff\xff garbage")
    assert r.status_code == 400 and "ExportTraceServiceRequest" in r.json()["error"]["message"]
    r = post({**bearer(org.writer), **proto}, b"\0" * (BODY_CAP + 1))
    assert r.status_code == 413
    bomb = gzip.compress(b"\0" * (BODY_CAP * 4))
    r = post({**bearer(org.writer), **proto, "Content-Encoding": "gzip"}, bomb)
    assert r.status_code == 413 and "decompressed" in r.json()["error"]["message"]


def test_a_key_never_opens_the_websocket(srv: ServerProcess) -> None:
    org = new_org(srv)
    for headers, subprotocols in (
        ({"Authorization": f"Bearer {org.writer}"}, ["netra.v1"]),
        ({}, ["netra.v1", f"jwt.{org.writer}"]),
    ):
        with connect(srv.ws_url, additional_headers=headers, subprotocols=subprotocols) as ws:
            with pytest.raises(ConnectionClosed) as closed:
                ws.recv(timeout=10)
            assert closed.value.rcvd is not None and closed.value.rcvd.code == 4401


def test_netra_upload_streams_a_file_with_an_api_key(srv: ServerProcess, tmp_path: Path) -> None:
    org = new_org(srv)
    usage = tmp_path / "usage.csv"
    made = subprocess.run(
        [sys.executable, "-m", "netra", "demo-data", "--records", "300", "--seed", "5",
         "--out", str(usage)],
        capture_output=True, text=True, timeout=120,
    )  # fmt: skip
    assert made.returncode == 0, made.stderr
    env = {k: v for k, v in os.environ.items() if not k.startswith("NETRA_")}
    sent = subprocess.run(
        [sys.executable, "-m", "netra", "upload", str(usage), "--url", srv.url],
        env=env | {"NETRA_API_KEY": org.writer}, capture_output=True, text=True, timeout=120,
    )  # fmt: skip
    assert sent.returncode == 0, sent.stdout + sent.stderr
    assert org.writer not in sent.stdout + sent.stderr
    assert sum(g["records"] for g in org.summary("provider")) == 300
    refused = subprocess.run(
        [sys.executable, "-m", "netra", "upload", str(usage), "--url", srv.url],
        env=env | {"NETRA_API_KEY": org.reader}, capture_output=True, text=True, timeout=120,
    )  # fmt: skip
    assert refused.returncode == 2 and "usage:write" in refused.stdout + refused.stderr


def test_no_key_is_ever_written_to_the_log(srv: ServerProcess) -> None:
    org = new_org(srv)
    revoked = new_key(srv, org.owner, "usage:read")
    listed = httpx.get(f"{srv.url}/api/v1/api-keys", headers=org.owner, timeout=30).json()
    key_id = next(k["id"] for k in listed["api_keys"] if revoked.startswith(k["prefix"]))
    assert httpx.delete(f"{srv.url}/api/v1/api-keys/{key_id}", headers=org.owner).status_code == 200
    r = httpx.post(
        f"{srv.url}/v1/traces", content=b'{"resourceSpans": []}',
        headers=bearer(org.writer) | {"Content-Type": "application/json"}, timeout=30,
    )  # fmt: skip
    assert r.status_code == 200, r.text
    for key in (revoked, org.writer + "x", org.reader):  # revoked, unknown, valid
        httpx.get(f"{srv.url}/api/v1/usage/summary", headers=bearer(key), timeout=30)
    deadline = time.monotonic() + 10  # the access log line of the last request is written
    while "/api/v1/usage/summary" not in srv.log() and time.monotonic() < deadline:
        time.sleep(0.05)
    log = srv.log()
    assert "/v1/traces" in log and "/api/v1/api-keys" in log, "no access log to check"
    for key in KEYS_SEEN:
        assert key[len("nk_") + 8 :] not in log, "a key's secret part reached the log"
