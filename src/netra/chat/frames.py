"""netra.v1 frames: parsing and validating client frames, building server frames.

Parsing never raises: a bad frame becomes a :class:`FrameError` whose code is one of
PROTOCOL.md's (``invalid_json``, ``invalid_frame``, ``unknown_type``, ``validation_error``,
``payload_too_large``), answered with an ``error`` frame while the connection stays open.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Annotated, Any

from pydantic import (
    AfterValidator,
    BaseModel,
    ConfigDict,
    Field,
    StrictInt,
    StrictStr,
    ValidationError,
)

from netra.core.inputs import MAX_BIGINT, check_text, text_problem

PROTOCOL = "netra.v1"
MAX_TEXT_CHARS = 32_000
MAX_ID_CHARS = 128

# Text the database can store (no NUL, no lone surrogate): refused as ``validation_error``.
SafeStr = Annotated[StrictStr, AfterValidator(check_text)]


class _Payload(BaseModel):
    model_config = ConfigDict(extra="ignore", frozen=True)


class PingPayload(_Payload):
    pass


class UserMessagePayload(_Payload):
    text: SafeStr = Field(min_length=1)
    thread_id: SafeStr | None = Field(default=None, min_length=1, max_length=64)


class ResumePayload(_Payload):
    run_id: SafeStr = Field(min_length=1, max_length=64)
    after_seq: StrictInt = Field(ge=0, le=MAX_BIGINT)


class CancelRunPayload(_Payload):
    run_id: SafeStr = Field(min_length=1, max_length=64)


PAYLOADS: dict[str, type[_Payload]] = {
    "ping": PingPayload,
    "user_message": UserMessagePayload,
    "resume": ResumePayload,
    "cancel_run": CancelRunPayload,
}


@dataclass(frozen=True, slots=True)
class ClientFrame:
    type: str
    id: str | None
    payload: _Payload


@dataclass(frozen=True, slots=True)
class FrameError:
    code: str
    message: str
    id: str | None = None


def parse_client_frame(raw: str) -> ClientFrame | FrameError:
    try:
        data = json.loads(raw)
    except (ValueError, RecursionError):
        return FrameError("invalid_json", "the frame is not valid JSON")
    if not isinstance(data, dict):
        return FrameError("invalid_frame", "a frame is a JSON object")
    frame_id = data.get("id")
    if frame_id is not None and (not isinstance(frame_id, str) or not frame_id):
        return FrameError("invalid_frame", "'id' must be a non-empty string")
    if frame_id is not None and len(frame_id) > MAX_ID_CHARS:
        return FrameError("invalid_frame", f"'id' is longer than {MAX_ID_CHARS} characters")
    if frame_id is not None and (problem := text_problem(frame_id)):
        return FrameError("invalid_frame", f"'id' {problem}")
    type_ = data.get("type")
    if not isinstance(type_, str) or not type_:
        return FrameError("invalid_frame", "'type' must be a non-empty string", frame_id)
    payload = data.get("payload", {})
    if not isinstance(payload, dict):
        return FrameError("invalid_frame", "'payload' must be an object", frame_id)
    model = PAYLOADS.get(type_)
    if model is None:
        return FrameError("unknown_type", f"unknown frame type '{type_[:40]}'", frame_id)
    text = payload.get("text")
    if type_ == "user_message" and isinstance(text, str) and len(text) > MAX_TEXT_CHARS:
        return FrameError(
            "payload_too_large", f"payload.text is longer than {MAX_TEXT_CHARS} characters",
            frame_id,
        )  # fmt: skip
    try:
        parsed = model.model_validate(payload)
    except ValidationError as exc:
        return FrameError("validation_error", _describe(exc), frame_id)
    return ClientFrame(type_, frame_id, parsed)


def _describe(exc: ValidationError) -> str:
    parts = []
    for err in exc.errors()[:3]:
        field = ".".join(str(p) for p in err.get("loc", ()))
        parts.append(f"payload.{field}: {err.get('msg', 'invalid')}")
    return "; ".join(parts) or "invalid payload"


def now_rfc3339() -> str:
    return datetime.now(UTC).isoformat().replace("+00:00", "Z")


def server_frame(type_: str, payload: dict[str, Any], frame_id: str | None = None) -> str:
    frame: dict[str, Any] = {"type": type_, "ts": now_rfc3339(), "payload": payload}
    if frame_id is not None:
        frame["id"] = frame_id
    return json.dumps(frame, separators=(",", ":"))


def error_frame(code: str, message: str, frame_id: str | None = None, **extra: Any) -> str:
    return server_frame("error", {"code": code, "message": message, **extra}, frame_id)


@dataclass(frozen=True, slots=True)
class EventHeader:
    """What a connection needs to know of a published run event to route it."""

    run_id: str
    seq: int
    final: bool


def event_header(raw: bytes) -> EventHeader | None:
    try:
        data = json.loads(raw)
        payload = data.get("payload") or {}
        final = data.get("type") == "agent_completed" and payload.get("agent") == "supervisor"
        return EventHeader(str(data["run_id"]), int(data["seq"]), bool(final))
    except (ValueError, KeyError, TypeError, AttributeError):
        return None
