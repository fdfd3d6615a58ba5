"""A local OpenAI-compatible server for tests: ``POST /v1/chat/completions`` answers a chat
completion with the usage the test chose (prompt, completion and cached tokens)."""

from __future__ import annotations

import threading
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any

import uvicorn
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route

from support.services import free_port


@dataclass
class FakeOpenAI:
    url: str
    usage: dict[str, int] = field(
        default_factory=lambda: {"prompt_tokens": 1000, "completion_tokens": 50, "cached": 0}
    )
    calls: list[dict[str, Any]] = field(default_factory=list)


def _app(fake: FakeOpenAI) -> Starlette:
    async def completions(request: Request) -> JSONResponse:
        body = await request.json()
        fake.calls.append(body)
        usage = fake.usage
        return JSONResponse(
            {
                "id": f"chatcmpl-{uuid.uuid4().hex[:20]}",
                "object": "chat.completion",
                "created": int(time.time()),
                "model": f"{body['model']}-2024-08-06",
                "choices": [
                    {
                        "index": 0,
                        "message": {"role": "assistant", "content": "It is cheaper to cache."},
                        "finish_reason": "stop",
                    }
                ],
                "usage": {
                    "prompt_tokens": usage["prompt_tokens"],
                    "completion_tokens": usage["completion_tokens"],
                    "total_tokens": usage["prompt_tokens"] + usage["completion_tokens"],
                    "prompt_tokens_details": {"cached_tokens": usage["cached"]},
                },
            }
        )

    return Starlette(routes=[Route("/v1/chat/completions", completions, methods=["POST"])])


@contextmanager
def fake_openai() -> Iterator[FakeOpenAI]:
    port = free_port()
    fake = FakeOpenAI(url=f"http://127.0.0.1:{port}/v1")
    config = uvicorn.Config(_app(fake), host="127.0.0.1", port=port, log_level="warning")
    server = uvicorn.Server(config)
    thread = threading.Thread(target=server.run, name="fake-openai", daemon=True)
    thread.start()
    deadline = time.monotonic() + 15
    while not server.started:
        if time.monotonic() > deadline or not thread.is_alive():
            raise RuntimeError("the fake OpenAI server did not start")
        time.sleep(0.02)
    try:
        yield fake
    finally:
        server.should_exit = True
        thread.join(10)
