"""The one table from domain error to HTTP status, and the one error shape of API.md.

Every error leaves as ``{"error": {"code", "message", "details"?}}``. ``details`` is an object;
validation errors put their fields in ``{"fields": [{"field", "message"}, ...]}``. An error no
handler expected is a 500 in the same shape, with the request id (the ``X-Request-ID`` header,
also in the log line); a value the database refuses is the client's data (400/409), and only
a database that is away is a 503.
"""

from __future__ import annotations

import re
import uuid
from typing import Any

import structlog
from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from sqlalchemy.exc import SQLAlchemyError
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from netra.core import errors
from netra.core.db import database_unavailable
from netra.core.db_errors import is_data_error, is_integrity_error

log = structlog.get_logger("netra.http")

REQUEST_ID_HEADER = "X-Request-ID"
_SAFE_ID = re.compile(r"^[A-Za-z0-9._:-]{1,128}$")
DATABASE_DOWN = "the database is unavailable; try again shortly"

STATUS: dict[type[errors.NetraError], int] = {
    errors.BadInput: 400,
    errors.Unauthenticated: 401,
    errors.Forbidden: 403,
    errors.NotFound: 404,
    errors.Conflict: 409,
    errors.TooLarge: 413,
    errors.UnsupportedMediaType: 415,
    errors.RequestTimeout: 408,
    errors.ValidationFailed: 422,
    errors.RateLimited: 429,
    errors.DependencyUnavailable: 503,
    errors.ConfigurationError: 500,
}

_HTTP_CODES = {
    400: "bad_request",
    401: "unauthenticated",
    403: "forbidden",
    404: "not_found",
    405: "method_not_allowed",
    408: "request_timeout",
    409: "conflict",
    413: "payload_too_large",
    415: "unsupported_media_type",
    422: "validation_error",
    429: "rate_limited",
    503: "dependency_unavailable",
}


def error_body(code: str, message: str, details: Any = None) -> dict[str, Any]:
    body: dict[str, Any] = {"code": code, "message": message}
    if details is not None:
        body["details"] = details
    return {"error": body}


# A tier limit: a count is not lifted by waiting (403); a concurrency or a rate is (429).
LIMIT_STATUS: dict[str, int] = {"count": 403, "concurrency": 429, "rate": 429}


def field_errors(fields: list[dict[str, str]]) -> dict[str, Any]:
    """The ``details`` of a validation error: ``{"fields": [{"field", "message"}, ...]}``."""
    return {"fields": fields}


def status_for(exc: errors.NetraError) -> int:
    if isinstance(exc, errors.LimitReached):
        return LIMIT_STATUS[exc.kind]
    for cls in type(exc).__mro__:
        if cls in STATUS:
            return STATUS[cls]
    return 400


def _details(exc: errors.NetraError) -> dict[str, Any] | None:
    """A single ``{"field", "message"?}`` of a validation error becomes ``{"fields": [it]}``,
    so that every validation error reads the same."""
    details = exc.details
    if (
        isinstance(exc, errors.ValidationFailed)
        and isinstance(details, dict)
        and "field" in details
        and "fields" not in details
    ):
        rest = {k: v for k, v in details.items() if k not in ("field", "message")}
        one = {"field": str(details["field"]), "message": str(details.get("message", exc.message))}
        return {**rest, **field_errors([one])}
    return details


def _netra_error(_: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, errors.NetraError)
    headers: dict[str, str] = {}
    status = status_for(exc)
    if isinstance(exc, errors.RateLimited):
        headers.update(exc.headers)
        headers["Retry-After"] = str(exc.retry_after_s)
    elif isinstance(exc, errors.LimitReached) and status == 429:
        headers["Retry-After"] = str(exc.retry_after_s or 1)  # every 429 says when to retry
    if isinstance(exc, errors.Unauthenticated):
        headers["WWW-Authenticate"] = "Bearer"
    return JSONResponse(error_body(exc.code, exc.message, _details(exc)), status, headers=headers)


# Pydantic names the branch of a union in an error's location (``start.float``,
# ``start.function-after[check_text(), str]``): not a field a client sent.
_BRANCH_TAG = re.compile(r"^([a-z-]+\[.*\]|str|int|float|bool|none|bytes)$")


def _is_branch_tag(part: object) -> bool:
    return isinstance(part, str) and _BRANCH_TAG.match(part) is not None


def _validation_error(_: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, RequestValidationError)
    errors_ = exc.errors()
    unparsed = next((e for e in errors_ if e.get("type") == "json_invalid"), None)
    if unparsed is not None:
        # A body that does not parse has no field to name: bad input (400), not validation.
        reason = (unparsed.get("ctx") or {}).get("error") or unparsed.get("msg", "")
        where = [p for p in unparsed.get("loc", ()) if isinstance(p, int)]
        at = f" (at character {where[0]})" if where else ""
        return JSONResponse(
            error_body("bad_request", f"request body is not valid JSON: {reason}{at}"), 400
        )
    fields: list[dict[str, str]] = []
    for e in errors_:
        parts = [str(p) for p in e.get("loc", ()) if p != "body" and not _is_branch_tag(p)]
        field = ".".join(parts) or "body"
        if all(f["field"] != field for f in fields):  # one entry per field, even for unions
            fields.append({"field": field, "message": str(e.get("msg", ""))})
    first = fields[0] if fields else {"field": "body", "message": "invalid"}
    message = f"{first['field']}: {first['message']}"
    return JSONResponse(error_body("validation_error", message, field_errors(fields)), 422)


def _http_error(_: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, StarletteHTTPException)
    code = _HTTP_CODES.get(exc.status_code, "error")
    return JSONResponse(
        error_body(code, str(exc.detail)), exc.status_code, headers=getattr(exc, "headers", None)
    )


def request_id_of(request: Request) -> str:
    rid = request.scope.get("state", {}).get("request_id")
    return str(rid) if rid else uuid.uuid4().hex


def _unexpected(request: Request, exc: Exception) -> JSONResponse:
    """The catch-all: whatever no other handler took."""
    rid = request_id_of(request)
    headers = {REQUEST_ID_HEADER: rid}
    if is_integrity_error(exc):
        log.info("conflicting data", request_id=rid, path=request.url.path, error=repr(exc)[:300])
        body = error_body("conflict", "the data conflicts with what is stored")
        return JSONResponse(body, 409, headers=headers)
    if is_data_error(exc):
        log.info("refused data", request_id=rid, path=request.url.path, error=repr(exc)[:300])
        message = "a value cannot be stored (out of range or invalid text)"
        return JSONResponse(error_body("bad_request", message), 400, headers=headers)
    if database_unavailable(exc):
        log.warning("database unavailable", request_id=rid, path=request.url.path)
        body = error_body("dependency_unavailable", DATABASE_DOWN)
        return JSONResponse(body, 503, headers=headers)
    log.error(
        "unexpected error",
        request_id=rid,
        method=request.method,
        path=request.url.path,
        exc_info=exc,
    )
    body = error_body("internal_error", f"unexpected server error (request id {rid})")
    body["error"]["request_id"] = rid
    return JSONResponse(body, 500, headers=headers)


class RequestIdMiddleware:
    """Gives every HTTP request an id (the client's ``X-Request-ID`` when it is a sane one),
    answers it in the ``X-Request-ID`` header and binds it to the request's log lines."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        given = ""
        for name, value in scope.get("headers", ()):
            if name == b"x-request-id":
                given = value.decode("latin-1")
                break
        rid = given if _SAFE_ID.match(given) else uuid.uuid4().hex
        scope.setdefault("state", {})["request_id"] = rid
        raw = (REQUEST_ID_HEADER.lower().encode(), rid.encode())

        async def send_with_id(message: Message) -> None:
            if message["type"] == "http.response.start":
                headers = [h for h in message.get("headers", []) if h[0] != raw[0]]
                message = {**message, "headers": [*headers, raw]}
            await send(message)

        with structlog.contextvars.bound_contextvars(request_id=rid):
            await self.app(scope, receive, send_with_id)


def install_error_handlers(app: FastAPI) -> None:
    app.add_exception_handler(errors.NetraError, _netra_error)
    # The driver's errors arrive wrapped by SQLAlchemy or, connecting, as OSError: outages are
    # 503, refused values 400/409, anything else a 500 with its request id.
    app.add_exception_handler(SQLAlchemyError, _unexpected)
    app.add_exception_handler(OSError, _unexpected)
    app.add_exception_handler(RequestValidationError, _validation_error)
    app.add_exception_handler(StarletteHTTPException, _http_error)
    app.add_exception_handler(Exception, _unexpected)
