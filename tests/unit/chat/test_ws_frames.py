"""U5 / U2: netra.v1 frame parsing and validation, handshake rules, frame and connection limits."""

from __future__ import annotations

import json

import pytest

from netra.chat.frames import (
    ClientFrame,
    FrameError,
    ResumePayload,
    UserMessagePayload,
    error_frame,
    event_header,
    parse_client_frame,
    server_frame,
)
from netra.chat.handshake import extract_token, origin_allowed
from netra.chat.limits import TokenBucket
from netra.core.cache import MemoryCache
from netra.core.slots import Slots


def _code(raw: str) -> str:
    parsed = parse_client_frame(raw)
    assert isinstance(parsed, FrameError), parsed
    return parsed.code


def test_valid_frames_parse_into_typed_payloads() -> None:
    msg = parse_client_frame(
        json.dumps({"type": "user_message", "id": "m1", "payload": {"text": "hi"}})
    )
    assert isinstance(msg, ClientFrame) and msg.id == "m1"
    assert isinstance(msg.payload, UserMessagePayload) and msg.payload.text == "hi"
    assert msg.payload.thread_id is None
    resume = parse_client_frame('{"type":"resume","payload":{"run_id":"r","after_seq":3}}')
    assert isinstance(resume, ClientFrame) and resume.id is None
    assert isinstance(resume.payload, ResumePayload) and resume.payload.after_seq == 3
    ping = parse_client_frame('{"type":"ping"}')
    assert isinstance(ping, ClientFrame) and ping.type == "ping"


@pytest.mark.parametrize(
    ("raw", "code"),
    [
        ("{nope", "invalid_json"),
        ("", "invalid_json"),
        ("[]", "invalid_frame"),
        ('"text"', "invalid_frame"),
        ('{"payload":{}}', "invalid_frame"),
        ('{"type":7}', "invalid_frame"),
        ('{"type":"ping","payload":[]}', "invalid_frame"),
        ('{"type":"ping","id":5}', "invalid_frame"),
        ('{"type":"ping","id":""}', "invalid_frame"),
        ('{"type":"subscribe_all"}', "unknown_type"),
        ('{"type":"user_message","payload":{}}', "validation_error"),
        ('{"type":"user_message","payload":{"text":""}}', "validation_error"),
        ('{"type":"user_message","payload":{"text":5}}', "validation_error"),
        ('{"type":"resume","payload":{"run_id":"r","after_seq":-1}}', "validation_error"),
        ('{"type":"resume","payload":{"run_id":"r","after_seq":"3"}}', "validation_error"),
        ('{"type":"resume","payload":{"run_id":"r"}}', "validation_error"),
        ('{"type":"cancel_run","payload":{}}', "validation_error"),
    ],
)
def test_bad_frames_get_the_documented_error_codes(raw: str, code: str) -> None:
    assert _code(raw) == code


def test_text_limit_and_id_are_kept_for_the_error() -> None:
    at_limit = json.dumps({"type": "user_message", "payload": {"text": "x" * 32_000}})
    assert isinstance(parse_client_frame(at_limit), ClientFrame)
    over = parse_client_frame(
        json.dumps({"type": "user_message", "id": "big", "payload": {"text": "x" * 32_001}})
    )
    assert isinstance(over, FrameError) and over.code == "payload_too_large" and over.id == "big"
    bad = parse_client_frame('{"type":"resume","id":"r9","payload":{"run_id":"r"}}')
    assert isinstance(bad, FrameError) and bad.id == "r9" and "after_seq" in bad.message


def test_server_frames_carry_type_ts_payload_and_echo_the_id() -> None:
    frame = json.loads(server_frame("ack", {"run_id": "r"}, "m1"))
    assert frame["type"] == "ack" and frame["id"] == "m1" and frame["payload"] == {"run_id": "r"}
    assert frame["ts"].endswith("Z")
    err = json.loads(error_frame("rate_limited", "slow down", "x", retry_after_s=2))
    assert err["payload"] == {"code": "rate_limited", "message": "slow down", "retry_after_s": 2}


def test_event_header_reads_run_seq_and_finality() -> None:
    final = {"run_id": "r", "seq": 5, "type": "agent_completed", "payload": {"agent": "supervisor"}}
    sub = {"run_id": "r", "seq": 4, "type": "agent_completed", "payload": {"agent": "data"}}
    head = event_header(json.dumps(final).encode())
    assert head is not None and (head.run_id, head.seq, head.final) == ("r", 5, True)
    head = event_header(json.dumps(sub).encode())
    assert head is not None and not head.final
    assert event_header(b"garbage") is None and event_header(b'{"seq": 1}') is None


# ---- handshake (U2) ---------------------------------------------------------------------


def test_token_from_header_or_subprotocol_and_netra_v1_selected() -> None:
    by_header = extract_token("Bearer abc", [], [])
    assert by_header.token == "abc" and by_header.subprotocol is None
    by_proto = extract_token(None, ["netra.v1", "jwt.abc"], [])
    assert by_proto.token == "abc" and by_proto.subprotocol == "netra.v1"
    both_same = extract_token("Bearer abc", ["jwt.abc"], [])
    assert both_same.token == "abc"


@pytest.mark.parametrize(
    ("authorization", "protocols", "query"),
    [
        (None, [], []),  # nothing
        ("Basic abc", [], []),  # not a bearer
        ("Bearer ", [], []),
        (None, ["netra.v1"], []),  # protocol without a token
        (None, ["jwt."], []),
        (None, ["jwt.a", "jwt.b"], []),  # two tokens
        ("Bearer a", ["jwt.b"], []),  # two different tokens
        ("Bearer abc", [], ["token"]),  # a query-string token is refused, even with a header
        (None, [], ["access_token"]),
        # Nothing in a header or query name switches authentication off.
        (None, [], ["test_mode"]),
    ],
)
def test_no_token_no_session(
    authorization: str | None, protocols: list[str], query: list[str]
) -> None:
    auth = extract_token(authorization, protocols, query)
    assert auth.token is None and auth.reason


def test_origin_check() -> None:
    allowed = ["https://app.netra.example", "http://127.0.0.1:8000"]
    assert origin_allowed(None, allowed)  # not a browser
    assert origin_allowed("https://app.netra.example", allowed)
    assert origin_allowed("HTTPS://APP.NETRA.EXAMPLE/", allowed)
    assert not origin_allowed("https://evil.example", allowed)
    assert not origin_allowed("null", allowed)
    assert not origin_allowed("https://app.netra.example.evil.example", allowed)
    # The page of this very server on a loopback address (netra serve --port 9000) ...
    assert origin_allowed("http://127.0.0.1:9000", allowed, host="127.0.0.1:9000")
    assert origin_allowed("http://localhost:9000", allowed, host="localhost:9000")
    # ... but not another port, nor a rebinding page whose Host is its own name.
    assert not origin_allowed("http://127.0.0.1:9001", allowed, host="127.0.0.1:9000")
    assert not origin_allowed("http://evil.example:9000", allowed, host="evil.example:9000")
    assert not origin_allowed("https://evil.example", allowed, host="127.0.0.1:9000")


# ---- limits -------------------------------------------------------------------------------


def test_token_bucket_allows_a_burst_then_the_rate() -> None:
    now = [0.0]
    bucket = TokenBucket(rate_per_s=2, burst=3, clock=lambda: now[0])
    assert [bucket.take() for _ in range(3)] == [0, 0, 0]
    wait = bucket.take()
    assert wait == pytest.approx(0.5)
    assert TokenBucket.retry_after_s(wait) == 1
    now[0] += 0.5
    assert bucket.take() == 0
    assert bucket.take() > 0


async def test_connection_slots_enforce_the_limit_and_free_on_release() -> None:
    slots = Slots(MemoryCache(), "ws", local_fallback=False)
    keys = [await slots.acquire("u1", 3, f"c{i}") for i in range(3)]
    assert all(keys) and len(set(keys)) == 3
    assert await slots.acquire("u1", 3, "c3") is None
    assert await slots.acquire("u2", 3, "other") is not None  # per user
    assert keys[0] is not None
    await slots.release(keys[0], "c0")
    assert await slots.acquire("u1", 3, "c4") == keys[0]
    # Releasing a slot someone else holds now does nothing.
    await slots.release(keys[0], "c0")
    assert await slots.acquire("u1", 3, "c5") is None
