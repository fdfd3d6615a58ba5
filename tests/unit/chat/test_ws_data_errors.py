"""Issue 17 / finding 7 on the WebSocket: a value the database refuses is the client's data,
answered with an ``error`` frame on an open connection; only an outage closes with 1013."""

from __future__ import annotations

import asyncio
from typing import Any

from sqlalchemy.exc import DataError, IntegrityError, ProgrammingError

from netra.auth.roles import permissions_for
from netra.chat.connection import Connection
from netra.chat.hub import ConnectionHub
from netra.core.context import UserContext
from support.chat_runtime import FakeSocket
from support.runtime import started_runtime

QUIET = {"ws_heartbeat_interval_s": 3600, "ws_heartbeat_timeout_s": 3600}


def _ctx() -> UserContext:
    return UserContext(
        user_id="alice",
        org_id="org-a",
        tier="enterprise",
        role="member",
        connection_id="c1",
        permissions=frozenset(permissions_for("member")),
    )


async def _answer_to(make_settings: Any, failure: BaseException) -> tuple[FakeSocket, Connection]:
    async with started_runtime(make_settings(**QUIET)) as rt:
        sock = FakeSocket()
        conn = Connection(sock, _ctx(), "token", rt, ConnectionHub(rt, tick_s=0.02))  # type: ignore[arg-type]
        task = asyncio.create_task(conn.serve())
        await sock.wait_for(lambda f: f["type"] == "connection_established")

        async def refuse(work: Any) -> Any:
            raise failure

        rt.db.run = rt.db.read = refuse  # type: ignore[method-assign]
        sock.client_sends(
            {"type": "resume", "id": "r1", "payload": {"run_id": "x", "after_seq": 0}}
        )
        await sock.wait_for(lambda f: f["type"] == "error" or sock.closed is not None)
        for _ in range(50):  # a close would follow an error frame at once: give it the chance
            if sock.closed:
                break
            await asyncio.sleep(0.01)
        still_open = sock.closed is None
        sock.client_leaves()
        await asyncio.wait_for(task, 5)
        assert still_open or conn.close_code is not None
        return sock, conn


def _nul_error() -> DataError:
    orig = Exception("invalid byte sequence for encoding UTF8: 0x00")
    orig.sqlstate = "22021"  # type: ignore[attr-defined]
    return DataError("SELECT ...", None, orig)


async def test_a_nul_refused_by_postgresql_is_an_error_frame_not_1013(make_settings: Any) -> None:
    sock, conn = await _answer_to(make_settings, _nul_error())
    [error] = [f for f in sock.sent if f["type"] == "error"]
    assert error["id"] == "r1" and error["payload"]["code"] == "validation_error"
    assert conn.close_code is None  # the connection stayed open until the client left


async def test_an_integer_out_of_range_is_an_error_frame(make_settings: Any) -> None:
    orig = Exception("value out of int32 range")
    sock, conn = await _answer_to(make_settings, DataError("SELECT", None, orig))
    assert [f["payload"]["code"] for f in sock.sent if f["type"] == "error"] == ["validation_error"]
    assert conn.close_code is None


async def test_a_lone_surrogate_the_driver_cannot_encode_is_an_error_frame(
    make_settings: Any,
) -> None:
    failure = UnicodeEncodeError("utf-8", "\ud800", 0, 1, "surrogates not allowed")
    sock, conn = await _answer_to(make_settings, failure)
    assert [f["payload"]["code"] for f in sock.sent if f["type"] == "error"] == ["validation_error"]
    assert conn.close_code is None


async def test_a_conflict_is_an_error_frame(make_settings: Any) -> None:
    sock, conn = await _answer_to(make_settings, IntegrityError("INSERT", None, Exception("dup")))
    assert any(f["type"] == "error" for f in sock.sent) and conn.close_code is None


async def test_a_bug_in_a_query_is_1011_not_1013(make_settings: Any) -> None:
    _, conn = await _answer_to(make_settings, ProgrammingError("SELECT", None, Exception("x")))
    assert conn.close_code == 1011
