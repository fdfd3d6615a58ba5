"""Request and response bodies of the chat HTTP routes."""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, ConfigDict, Field

from netra.core.inputs import Text


class ThreadIn(BaseModel):
    title: Text | None = Field(default=None, max_length=200)


class ThreadOut(BaseModel):
    id: str
    title: str
    created_at: str = Field(description="RFC 3339 UTC")
    updated_at: str = Field(description="RFC 3339 UTC")


class ThreadList(BaseModel):
    threads: list[ThreadOut]


class MessageOut(BaseModel):
    id: str
    thread_id: str
    role: str = Field(description="user or assistant")
    text: str
    run_id: str | None = None
    meta: dict[str, Any]
    created_at: str


class MessageList(BaseModel):
    thread_id: str
    messages: list[MessageOut]


class RunEventOut(BaseModel):
    """A stored run event, the same frame as on the WebSocket (PROTOCOL: run events)."""

    model_config = ConfigDict(extra="allow")

    type: str
    ts: str
    run_id: str
    thread_id: str
    seq: int
    payload: dict[str, Any]


class RunEvents(BaseModel):
    run_id: str
    thread_id: str
    status: str = Field(description="queued, running, succeeded, failed or cancelled")
    last_seq: int
    events: list[RunEventOut]
