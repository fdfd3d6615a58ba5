"""The one table from domain error to HTTP status, and the one error shape of API.md."""

from __future__ import annotations

from typing import Any

import structlog
from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from sqlalchemy.exc import SQLAlchemyError
from starlette.exceptions import HTTPException as StarletteHTTPException

from netra.core import errors
from netra.core.db import database_unavailable

log = structlog.get_logger("netra.http")

DATABASE_DOWN = "the database is unavailable; try again shortly"

STATUS: dict[type[errors.NetraError], int] = {
    errors.BadInput: 400,
    errors.Unauthenticated: 401,
    errors.Forbidden: 403,
    errors.NotFound: 404,
    errors.Conflict: 409,
    errors.TooLarge: 413,
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


def status_for(exc: errors.NetraError) -> int:
    if isinstance(exc, errors.LimitReached):
        return LIMIT_STATUS[exc.kind]
    for cls in type(exc).__mro__:
        if cls in STATUS:
            return STATUS[cls]
    return 400


def _netra_error(_: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, errors.NetraError)
    headers: dict[str, str] = {}
    status = status_for(exc)
    if isinstance(exc, errors.RateLimited):
        headers["Retry-After"] = str(exc.retry_after_s)
    elif isinstance(exc, errors.LimitReached) and status == 429:
        headers["Retry-After"] = str(exc.retry_after_s or 1)  # every 429 says when to retry
    if isinstance(exc, errors.Unauthenticated):
        headers["WWW-Authenticate"] = "Bearer"
    return JSONResponse(error_body(exc.code, exc.message, exc.details), status, headers=headers)


def _validation_error(_: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, RequestValidationError)
    details = [
        {
            "field": ".".join(str(p) for p in e.get("loc", ()) if p != "body"),
            "message": e.get("msg", ""),
        }
        for e in exc.errors()
    ]
    return JSONResponse(error_body("validation_error", "invalid request", details), 422)


def _http_error(_: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, StarletteHTTPException)
    code = _HTTP_CODES.get(exc.status_code, "error")
    return JSONResponse(
        error_body(code, str(exc.detail)), exc.status_code, headers=getattr(exc, "headers", None)
    )


async def _database_error(request: Request, exc: Exception) -> JSONResponse:
    """A database outage on any router is a 503 in the error shape, never a 500.

    Anything else (bad SQL, a constraint the code did not expect) is re-raised: a 500 with its
    traceback logged, as before this handler existed.
    """
    if not database_unavailable(exc):
        raise exc
    log.warning("database unavailable", path=request.url.path, error=repr(exc))
    return JSONResponse(error_body("dependency_unavailable", DATABASE_DOWN), 503)


def install_error_handlers(app: FastAPI) -> None:
    app.add_exception_handler(errors.NetraError, _netra_error)
    # The driver's connection errors arrive wrapped by SQLAlchemy or, connecting, as OSError.
    app.add_exception_handler(SQLAlchemyError, _database_error)
    app.add_exception_handler(OSError, _database_error)
    app.add_exception_handler(RequestValidationError, _validation_error)
    app.add_exception_handler(StarletteHTTPException, _http_error)
