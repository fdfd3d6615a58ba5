"""The OpenAPI documents are the client's contract (issue 17): every operation of both services
has a typed answer, declares its errors with the one error schema, and its security."""

from __future__ import annotations

from typing import Any

import pytest

from netra.apps.all_in_one import create_app as all_in_one
from netra.apps.api import create_app as api_app
from netra.apps.auth_service import create_app as auth_app
from netra.core.openapi import responses

ERROR_REF = "#/components/schemas/ErrorResponse"
# Answers that are not JSON documents by nature: OTLP's own encoding, a JSON Lines export.
UNTYPED_OK = {("POST", "/v1/traces"), ("GET", "/api/v1/org/export")}


def _operations(schema: dict[str, Any]) -> list[tuple[str, str, dict[str, Any]]]:
    return [
        (method.upper(), path, op)
        for path, item in schema["paths"].items()
        for method, op in item.items()
        if method in ("get", "post", "put", "patch", "delete")
    ]


@pytest.fixture(scope="module", params=["api", "auth", "all-in-one"])
def schema(request: pytest.FixtureRequest) -> dict[str, Any]:
    make = {"api": api_app, "auth": auth_app, "all-in-one": all_in_one}[request.param]
    return make().openapi()  # type: ignore[no-any-return]


def test_every_success_answer_is_a_named_model(schema: dict[str, Any]) -> None:
    loose = []
    for method, path, op in _operations(schema):
        for status, answer in op["responses"].items():
            if not status.startswith("2") or (method, path) in UNTYPED_OK:
                continue
            body = answer.get("content", {}).get("application/json", {}).get("schema")
            if status in ("204",) and body is None:
                continue
            if body is None or "$ref" not in body:
                loose.append(f"{method} {path} {status}: {body}")
    assert loose == []


def test_every_error_answer_uses_the_one_error_schema(schema: dict[str, Any]) -> None:
    wrong = []
    for method, path, op in _operations(schema):
        for status, answer in op["responses"].items():
            if status[0] not in "45" or (path, status) == ("/health/ready", "503"):
                continue
            body = answer.get("content", {}).get("application/json", {}).get("schema", {})
            if body.get("$ref") != ERROR_REF:
                wrong.append(f"{method} {path} {status}")
    assert wrong == []
    assert "HTTPValidationError" not in schema["components"]["schemas"]


def test_authenticated_operations_declare_the_bearer_scheme_and_its_refusals(
    schema: dict[str, Any],
) -> None:
    assert schema["components"]["securitySchemes"]["bearer"]["scheme"] == "bearer"
    secured = [(m, p, op) for m, p, op in _operations(schema) if op.get("security")]
    assert secured
    for method, path, op in secured:
        assert {"401", "403", "429"} <= set(op["responses"]), (method, path)
    for method, path, op in _operations(schema):
        if path.startswith("/api/"):
            assert {"bearer": []} in op.get("security", []), (method, path)
        if op.get("parameters") or op.get("requestBody"):
            assert "422" in op["responses"], (method, path)


def test_api_key_operations_declare_the_api_key_scheme() -> None:
    schema = api_app().openapi()
    assert schema["components"]["securitySchemes"]["apiKey"]["bearerFormat"] == "nk_..."
    by_key = {(m, p): op.get("security", []) for m, p, op in _operations(schema)}
    assert by_key[("POST", "/v1/traces")] == [{"apiKey": []}]
    for operation in [("POST", "/api/v1/usage"), ("GET", "/api/v1/usage/summary"),
                      ("POST", "/api/v1/analyses")]:  # fmt: skip
        assert {"apiKey": []} in by_key[operation] and {"bearer": []} in by_key[operation]
    assert {"apiKey": []} not in by_key[("POST", "/api/v1/budgets")]


def test_the_responses_helper_adds_retry_after_to_429() -> None:
    declared = responses(404, 429)
    assert declared[404]["description"] and "headers" not in declared[404]
    assert "Retry-After" in declared[429]["headers"]
