"""The OpenAPI document as the client's contract: one error schema, the error responses each
operation can give, the security schemes.

Routes declare what is particular to them with :func:`responses` (``responses=responses(404)``);
:func:`install_openapi` adds what follows from the route's shape to every operation, including
those of components written later: 422 (the error shape, not FastAPI's own body) where there are
parameters or a body, 400 where there is a body (unparseable), 401/403/429 where a bearer
credential is needed, 503 everywhere a dependency is used.
"""

from __future__ import annotations

from typing import Any

from fastapi import FastAPI
from fastapi.openapi.utils import get_openapi
from pydantic import BaseModel, ConfigDict, Field


class FieldError(BaseModel):
    field: str = Field(description="dotted path of the offending field or parameter")
    message: str


class ErrorDetail(BaseModel):
    model_config = ConfigDict(extra="allow")

    code: str = Field(description="stable machine-readable name", examples=["validation_error"])
    message: str = Field(description="for people", examples=["invalid request"])
    details: dict[str, Any] | None = Field(
        default=None,
        description='an object; for validation errors {"fields": [{"field", "message"}]}',
        examples=[{"fields": [{"field": "email", "message": "contains a NUL character"}]}],
    )
    request_id: str | None = Field(
        default=None, description="on unexpected errors: the X-Request-ID to quote"
    )


class ErrorResponse(BaseModel):
    """Every error of every endpoint (API.md)."""

    error: ErrorDetail


DESCRIPTIONS: dict[int, str] = {
    400: "bad input",
    401: "no or bad credentials",
    403: "not allowed",
    404: "not found or not yours",
    408: "the request body stopped arriving (read deadline)",
    409: "conflict",
    413: "too large",
    415: "unsupported media type",
    422: "validation failed",
    429: "rate limited (see Retry-After)",
    500: "unexpected server error (quote its request id)",
    503: "a dependency is down; try again shortly",
}

_REF = {"$ref": "#/components/schemas/ErrorResponse"}
_RETRY_AFTER = {
    "Retry-After": {"description": "seconds to wait", "schema": {"type": "integer"}},
    "RateLimit-Policy": {
        "description": 'the tier\'s quota (IETF draft): "<name>";q=<quota>;w=<window s>',
        "schema": {"type": "string"},
    },
    "RateLimit": {
        "description": 'what is left (IETF draft): "<name>";r=<remaining>;t=<reset s>',
        "schema": {"type": "string"},
    },
}
BEARER = "bearer"


def responses(*codes: int) -> dict[int | str, dict[str, Any]]:
    """Error responses for a route decorator: ``@router.get(..., responses=responses(404))``."""
    out: dict[int | str, dict[str, Any]] = {}
    for code in codes:
        entry: dict[str, Any] = {"model": ErrorResponse, "description": DESCRIPTIONS[code]}
        if code == 429:
            entry["headers"] = _RETRY_AFTER
        out[code] = entry
    return out


def _error_entry(code: int) -> dict[str, Any]:
    entry: dict[str, Any] = {
        "description": DESCRIPTIONS.get(code, "error"),
        "content": {"application/json": {"schema": _REF}},
    }
    if code == 429:
        entry["headers"] = _RETRY_AFTER
    return entry


def _amend(operation: dict[str, Any]) -> None:
    answers: dict[str, Any] = operation.setdefault("responses", {})
    has_input = bool(operation.get("parameters") or operation.get("requestBody"))
    codes = [503]
    if has_input:
        codes.append(422)
    if operation.get("requestBody"):
        codes.append(400)  # a body that is not JSON / not parseable
    if operation.get("security"):
        codes += [401, 403, 429]
    for code in codes:
        answers.setdefault(str(code), _error_entry(code))
    validation = answers.get("422", {}).get("content", {}).get("application/json", {})
    if "HTTPValidationError" in str(validation.get("schema", "")):
        answers["422"] = _error_entry(422)


def contract_schema(app: FastAPI) -> dict[str, Any]:
    schema = get_openapi(
        title=app.title,
        version=app.version,
        description=app.description,
        routes=app.routes,
        tags=app.openapi_tags,
    )
    components = schema.setdefault("components", {})
    schemas = components.setdefault("schemas", {})
    schemas.update(_model_schemas(ErrorResponse))
    schemes = components.setdefault("securitySchemes", {})
    schemes[BEARER] = {
        "type": "http",
        "scheme": "bearer",
        "bearerFormat": "JWT",
        "description": "an access token from POST /auth/login; operations that also take an "
        "API key list the apiKey scheme as an alternative",
    }
    for path_item in schema.get("paths", {}).values():
        for method, operation in path_item.items():
            if method in ("get", "post", "put", "patch", "delete") and isinstance(operation, dict):
                _amend(operation)
    # FastAPI's own validation bodies are never sent: the error shape replaces them.
    schemas.pop("HTTPValidationError", None)
    schemas.pop("ValidationError", None)
    return schema


def _model_schemas(*models: type[BaseModel]) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for model in models:
        schema = model.model_json_schema(ref_template="#/components/schemas/{model}")
        out.update(schema.pop("$defs", {}))
        out[model.__name__] = schema
    return out


def install_openapi(app: FastAPI) -> None:
    """Serve :func:`contract_schema` (built once) at the app's OpenAPI URL."""

    def openapi() -> dict[str, Any]:
        if app.openapi_schema is None:
            app.openapi_schema = contract_schema(app)
        return app.openapi_schema

    app.openapi = openapi  # type: ignore[method-assign]
