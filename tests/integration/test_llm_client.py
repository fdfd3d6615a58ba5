"""The OpenAI-compatible client against a real local HTTP server (real sockets, real JSON):
success, retries, a 500 and a timeout falling back to the offline writer."""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import pytest

from netra.agents.component import build_pipeline, build_writer
from netra.agents.llm.base import AnswerBrief
from netra.agents.llm.offline import OfflineWriter, compose
from netra.agents.llm.openai_compat import OpenAICompatWriter
from netra.agents.llm.resilient import ResilientWriter
from netra.agents.money import dollar_figures
from netra.core.resilience import CircuitBreaker
from support.agent_fakes import (
    REPORT,
    FakeEngine,
    MemoryDeps,
    RecordingSink,
    check_protocol,
    records,
    request,
)


@dataclass
class FakeLLM:
    """Behaviour per request, in order (the last one repeats): "ok", "500", "400", "slow",
    "garbage", "label:<text>". "ok" answers a completion that rewords the draft it was sent;
    "label:<text>" answers <text>."""

    script: list[str] = field(default_factory=lambda: ["ok"])
    slow_s: float = 2.0
    requests: list[dict[str, Any]] = field(default_factory=list)
    lock: threading.Lock = field(default_factory=threading.Lock)

    def next(self, body: dict[str, Any], headers: dict[str, str]) -> str:
        with self.lock:
            self.requests.append({"body": body, "headers": headers})
            return self.script[min(len(self.requests), len(self.script)) - 1]


@pytest.fixture
def llm() -> Iterator[tuple[FakeLLM, str]]:
    state = FakeLLM()

    class Handler(BaseHTTPRequestHandler):
        def log_message(self, *args: Any) -> None:
            return None

        def do_POST(self) -> None:
            size = int(self.headers.get("Content-Length", "0"))
            body = json.loads(self.rfile.read(size))
            mode = state.next(body, {k.lower(): v for k, v in self.headers.items()})
            if self.path != "/v1/chat/completions":
                return self._send(404, {"error": {"message": "no route"}})
            if mode == "slow":
                time.sleep(state.slow_s)
                return self._send(200, {"choices": []})
            if mode in ("500", "400"):
                return self._send(int(mode), {"error": {"message": "fake failure"}})
            if mode == "garbage":
                return self._raw(200, b"<html>not json</html>")
            if mode.startswith("label:"):
                content = mode.removeprefix("label:")
            elif "tools" in body:  # a function-calling turn: answer without calling any
                content = "Here is what I found."
            else:
                draft = body["messages"][-1]["content"].split("DRAFT:\n", 1)[1]
                content = "Here is what I found.\n\n" + draft
            return self._send(
                200,
                {
                    "id": "chatcmpl-1",
                    "object": "chat.completion",
                    "model": body["model"],
                    "choices": [
                        {
                            "index": 0,
                            "message": {"role": "assistant", "content": content},
                            "finish_reason": "stop",
                        }
                    ],
                },
            )

        def _send(self, status: int, payload: dict[str, Any]) -> None:
            self._raw(status, json.dumps(payload).encode())

        def _raw(self, status: int, data: bytes) -> None:
            try:
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)
            except (BrokenPipeError, ConnectionResetError):
                pass  # the client gave up (timeout test)

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    server.daemon_threads = True
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield state, f"http://127.0.0.1:{server.server_address[1]}/v1"
    finally:
        server.shutdown()
        server.server_close()
        thread.join(5)


def _brief() -> AnswerBrief:
    return AnswerBrief(
        question="where is my money going and how do I cut it?",
        intent="reduce_cost",
        sufficiency="sufficient",
        sufficiency_reason="600 records over 14.0 days",
        report=REPORT,
        findings=REPORT["findings"],
    )


async def _no_sleep(s: float) -> None:
    return None


def _writer(base_url: str, *, timeout_s: float = 5.0, attempts: int = 3) -> ResilientWriter:
    client = OpenAICompatWriter(
        base_url=base_url, api_key="sk-test-key", model="tiny-model", timeout_s=timeout_s
    )
    return ResilientWriter(
        client, OfflineWriter(), CircuitBreaker("llm"), attempts=attempts, sleep=_no_sleep
    )


async def test_answer_worded_by_the_llm(llm: tuple[FakeLLM, str]) -> None:
    state, url = llm
    text, meta = await _writer(url).write(_brief())
    assert text.startswith("Here is what I found.")
    assert "$12,345.68" in text and "$3,700.11" in text
    assert meta == {"writer": "openai_compat", "degraded": False, "llm_attempts": 1}
    (req,) = state.requests
    assert req["headers"]["authorization"] == "Bearer sk-test-key"
    assert req["headers"]["content-type"] == "application/json"
    assert req["body"]["model"] == "tiny-model"
    roles = [m["role"] for m in req["body"]["messages"]]
    assert roles == ["system", "user"]
    assert "never compute" in req["body"]["messages"][0]["content"]


async def test_a_500_is_retried_then_succeeds(llm: tuple[FakeLLM, str]) -> None:
    state, url = llm
    state.script = ["500", "ok"]
    text, meta = await _writer(url).write(_brief())
    assert len(state.requests) == 2 and meta["llm_attempts"] == 2
    assert text.startswith("Here is what I found.")


async def test_persistent_500_falls_back_to_the_offline_writer(llm: tuple[FakeLLM, str]) -> None:
    state, url = llm
    state.script = ["500"]
    text, meta = await _writer(url, attempts=3).write(_brief())
    assert len(state.requests) == 3
    assert text == compose(_brief())
    assert meta["degraded"] is True and meta["degraded_reason"] == "llm_transient_error"
    assert "HTTP 500" in meta["degraded_detail"]


async def test_timeout_falls_back_to_the_offline_writer(llm: tuple[FakeLLM, str]) -> None:
    state, url = llm
    state.script = ["slow"]
    state.slow_s = 1.5
    text, meta = await _writer(url, timeout_s=0.2, attempts=2).write(_brief())
    assert len(state.requests) == 2
    assert text == compose(_brief())
    assert meta["degraded_reason"] == "llm_transient_error"
    assert "timed out" in meta["degraded_detail"]


async def test_a_400_is_permanent_not_retried(llm: tuple[FakeLLM, str]) -> None:
    state, url = llm
    state.script = ["400"]
    _, meta = await _writer(url).write(_brief())
    assert len(state.requests) == 1
    assert meta["degraded_reason"] == "llm_permanent_error"


async def test_a_non_json_answer_is_permanent(llm: tuple[FakeLLM, str]) -> None:
    state, url = llm
    state.script = ["garbage"]
    text, meta = await _writer(url).write(_brief())
    assert len(state.requests) == 1 and meta["degraded_reason"] == "llm_permanent_error"
    assert text == compose(_brief())


async def test_unreachable_server_falls_back() -> None:
    from support.services import free_port

    text, meta = await _writer(f"http://127.0.0.1:{free_port()}/v1", attempts=2).write(_brief())
    assert meta["degraded_reason"] == "llm_transient_error" and meta["llm_attempts"] == 2
    assert text == compose(_brief())


async def test_pipeline_from_settings_uses_the_llm_then_degrades(
    llm: tuple[FakeLLM, str], make_settings: Any
) -> None:
    state, url = llm
    settings = make_settings(llm_base_url=url, llm_api_key="sk-x", llm_model="m1", llm_timeout_s=2)
    assert build_writer(settings).name == "openai_compat"
    pipeline = build_pipeline(settings)
    pipeline.engine = FakeEngine()
    sink, mem = RecordingSink(), MemoryDeps(records(600))
    result = await pipeline(request("how do I cut my AI spend?"), sink, mem.deps())
    check_protocol(sink.events)
    assert result.status == "succeeded"
    # The model drives the tools (agents.assistant): here it answers without calling one.
    assert (result.text or "").startswith("Here is what I found.")
    assert result.metadata["writer"] == "llm_tools" and result.metadata["degraded"] is False
    assert state.requests[-1]["body"]["model"] == "m1"
    assert result.metadata["llm_usage"]["calls"] == 1

    state.script = [*["ok"] * len(state.requests), "500"]  # from now on: HTTP 500
    sink2 = RecordingSink()
    result2 = await pipeline(request("how do I cut my AI spend?"), sink2, mem.deps())
    check_protocol(sink2.events)
    assert result2.status == "succeeded"
    assert result2.metadata["degraded"] is True and result2.metadata["writer"] == "offline"
    # The usual agents ran and the offline writer answered: the same figures as with no LLM.
    offline = build_pipeline(make_settings())
    offline.engine = FakeEngine()
    plain = await offline(request("how do I cut my AI spend?"), RecordingSink(), mem.deps())
    assert set(dollar_figures(result2.text or "")) == set(dollar_figures(plain.text or ""))
    assert dollar_figures(result2.text or "")


async def test_classify_over_http(llm: tuple[FakeLLM, str]) -> None:
    state, url = llm
    client = OpenAICompatWriter(base_url=url, api_key=None, model="m", timeout_s=5)
    labels = ["spend_overview", "reduce_cost", "out_of_scope"]
    state.script = ["label: Reduce cost.", "label:poetry", "500"]
    assert await client.classify("the robots eat our treasury", labels) == "reduce_cost"
    assert await client.classify("a sonnet please", labels) is None
    req = state.requests[0]
    assert "authorization" not in req["headers"]
    assert req["body"]["temperature"] == 0.0
    assert "reduce_cost" in req["body"]["messages"][0]["content"]
    assert req["body"]["messages"][1] == {"role": "user", "content": "the robots eat our treasury"}
    writer = ResilientWriter(client, OfflineWriter(), CircuitBreaker("llm"), sleep=_no_sleep)
    label, meta = await writer.classify("anything", labels)
    assert label is None and meta["classifier_reason"] == "llm_transient_error"
