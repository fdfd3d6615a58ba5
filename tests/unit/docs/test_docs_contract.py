"""docs/api.md and docs/protocol.md are the client's documentation: they must match the code.
Every documented HTTP operation is in the OpenAPI documents and every operation there is
documented; every frame type and error code of the protocol is known to the code and has a
test."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

from netra.apps.all_in_one import create_app as all_in_one
from netra.apps.api import create_app as api_app
from netra.apps.auth_service import create_app as auth_app
from netra.chat.events import EVENT_TYPES
from netra.chat.frames import PAYLOADS
from netra.core.settings import Settings

ROOT = Path(__file__).resolve().parents[3]
DOCS = ROOT / "docs"
OPERATION = re.compile(r"^\| `(GET|POST|PUT|PATCH|DELETE) (/[^`\s?]*)`", re.M)
NOT_IN_OPENAPI = {("GET", "/ws"), ("GET", "/metrics")}


def _operations(settings: Settings) -> set[tuple[str, str]]:
    found: set[tuple[str, str]] = set()
    for make in (all_in_one, api_app, auth_app):
        schema: dict[str, Any] = make(settings).openapi()
        for path, item in schema["paths"].items():
            found |= {(method.upper(), path) for method in item if method != "parameters"}
    return found


def _documented() -> set[tuple[str, str]]:
    return set(OPERATION.findall((DOCS / "api.md").read_text()))


def test_every_documented_operation_exists_and_every_operation_is_documented(
    make_settings: Any,
) -> None:
    code = _operations(make_settings())
    docs = _documented()
    assert len(docs) > 20
    assert docs - code == set(), "documented in docs/api.md, absent from the OpenAPI documents"
    assert code - docs == set(), "in the OpenAPI documents, missing from docs/api.md"


def _table_types(markdown: str, heading: str) -> list[str]:
    """The backticked first column of the table under ``### heading``."""
    section = markdown.split(f"### {heading}\n", 1)[1].split("\n#", 1)[0]
    return re.findall(r"^\| `([a-z_]+)` \|", section, re.M)


PROTOCOL = (DOCS / "protocol.md").read_text() if (DOCS / "protocol.md").exists() else ""
SOURCES = "\n".join(p.read_text() for p in (ROOT / "src" / "netra").rglob("*.py"))
TESTS = "\n".join(
    p.read_text() for p in (ROOT / "tests").rglob("*.py") if p.name != Path(__file__).name
)


def test_client_frame_types_are_those_the_parser_knows() -> None:
    assert set(_table_types(PROTOCOL, "Client to server")) == set(PAYLOADS)


def test_run_event_types_are_those_the_pipeline_emits() -> None:
    assert set(_table_types(PROTOCOL, "Run events (server to client)")) == set(EVENT_TYPES)


def test_other_server_frames_are_sent_by_the_connection() -> None:
    documented = _table_types(PROTOCOL, "Other server frames")
    assert set(documented) == {"connection_established", "pong", "ack", "error"}
    for kind in documented:
        assert f'"{kind}"' in SOURCES, kind


def test_every_error_code_is_one_the_server_sends() -> None:
    codes = _table_types(PROTOCOL, "Error codes")
    assert {"invalid_json", "invalid_frame", "unknown_type", "validation_error"} <= set(codes)
    for code in codes:
        assert f'"{code}"' in SOURCES, f"error code {code} is never sent"


def test_every_frame_type_and_error_code_has_a_test() -> None:
    kinds = [
        *_table_types(PROTOCOL, "Client to server"),
        *_table_types(PROTOCOL, "Run events (server to client)"),
        *_table_types(PROTOCOL, "Other server frames"),
        *_table_types(PROTOCOL, "Error codes"),
    ]
    untested = [k for k in kinds if f'"{k}"' not in TESTS]
    assert untested == []


def test_the_readme_points_to_the_docs_not_outside_the_repository() -> None:
    readme = (ROOT / "README.md").read_text()
    assert "shared/spec" not in readme
    assert "docs/protocol.md" in readme and "docs/api.md" in readme
