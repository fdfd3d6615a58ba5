"""The one error shape for every failure (issue 17): the catch-all with its request id, data
errors as 4xx, outages as 503, validation details as ``{"fields": [...]}``."""

from __future__ import annotations

import httpx
import pytest
from fastapi import FastAPI
from pydantic import BaseModel
from sqlalchemy.exc import DataError, IntegrityError, OperationalError

from netra.core.errors import ValidationFailed
from netra.core.http_errors import RequestIdMiddleware, install_error_handlers
from netra.core.inputs import MAX_BIGINT, PathId, Text, find_bad_text, text_problem

JSON = {"content-type": "application/json"}


class Body(BaseModel):
    name: Text


def _app() -> FastAPI:
    app = FastAPI()
    install_error_handlers(app)
    app.add_middleware(RequestIdMiddleware)

    @app.get("/bug")
    async def bug() -> None:
        raise RuntimeError("a bug")

    @app.get("/nul")
    async def nul() -> None:
        raise DataError("INSERT", None, Exception("invalid byte sequence for encoding UTF8: 0x00"))

    @app.get("/dup")
    async def dup() -> None:
        raise IntegrityError("INSERT", None, Exception("duplicate key"))

    @app.get("/down")
    async def down() -> None:
        raise OperationalError("SELECT 1", None, ConnectionRefusedError("refused"))

    @app.get("/one-field")
    async def one_field() -> None:
        raise ValidationFailed("bad url", details={"field": "url"})

    @app.post("/things/{thing_id}")
    async def things(thing_id: PathId, body: Body) -> dict[str, str]:
        return {"id": thing_id}

    return app


@pytest.fixture
async def client() -> httpx.AsyncClient:
    transport = httpx.ASGITransport(app=_app(), raise_app_exceptions=False)
    return httpx.AsyncClient(transport=transport, base_url="http://t")


async def test_an_unexpected_error_is_a_500_in_the_shape_with_its_request_id(
    client: httpx.AsyncClient, capsys: pytest.CaptureFixture[str]
) -> None:
    r = await client.get("/bug", headers={"X-Request-ID": "req-42"})
    assert r.status_code == 500
    assert r.headers["content-type"] == "application/json"
    error = r.json()["error"]
    assert error["code"] == "internal_error" and error["request_id"] == "req-42"
    assert r.headers["x-request-id"] == "req-42"
    assert "req-42" in capsys.readouterr().out  # the log line names it: found in the logs


async def test_every_answer_has_a_request_id_and_a_bad_one_is_replaced(
    client: httpx.AsyncClient,
) -> None:
    r = await client.get("/one-field", headers={"X-Request-ID": "bad id\nwith newline"})
    assert r.status_code == 422
    assert len(r.headers["x-request-id"]) == 32 and "\n" not in r.headers["x-request-id"]


async def test_a_value_the_database_refuses_is_400_and_a_conflict_409(
    client: httpx.AsyncClient,
) -> None:
    nul = await client.get("/nul")
    assert nul.status_code == 400 and nul.json()["error"]["code"] == "bad_request"
    dup = await client.get("/dup")
    assert dup.status_code == 409 and dup.json()["error"]["code"] == "conflict"


async def test_only_an_outage_is_503(client: httpx.AsyncClient) -> None:
    r = await client.get("/down")
    assert r.status_code == 503 and r.json()["error"]["code"] == "dependency_unavailable"


async def test_validation_details_are_an_object_with_fields(client: httpx.AsyncClient) -> None:
    r = await client.post("/things/ok", content=b'{"name": "a\\u0000b"}', headers=JSON)
    assert r.status_code == 422
    error = r.json()["error"]
    assert error["code"] == "validation_error"
    assert error["details"]["fields"] == [
        {"field": "name", "message": "Value error, contains a NUL character (U+0000)"}
    ]
    one = (await client.get("/one-field")).json()["error"]
    assert one["details"] == {"fields": [{"field": "url", "message": "bad url"}]}


async def test_nul_and_surrogates_are_refused_in_bodies_and_paths(
    client: httpx.AsyncClient,
) -> None:
    lone = await client.post("/things/ok", content=b'{"name": "\\ud800"}', headers=JSON)
    assert lone.status_code == 422
    assert lone.json()["error"]["details"]["fields"][0]["field"] == "name"
    path = await client.post("/things/a%00b", json={"name": "x"})
    assert path.status_code == 422
    assert path.json()["error"]["details"]["fields"][0]["field"] == "path.thing_id"
    assert (await client.post("/things/ok", json={"name": "fine"})).json() == {"id": "ok"}


def test_text_problems_are_named() -> None:
    assert text_problem("plain ü 🙂") is None
    assert "NUL" in (text_problem("a\x00") or "")
    assert "surrogate" in (text_problem("\udc80") or "")
    assert find_bad_text({"a": [1, {"b": "x\x00"}]}) == (
        "a.1.b",
        "contains a NUL character (U+0000)",
    )
    assert find_bad_text({"ok": ["fine"]}) is None
    assert MAX_BIGINT == 9223372036854775807
