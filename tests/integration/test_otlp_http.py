"""``POST /v1/traces`` over HTTP on PostgreSQL: the statuses OTLP/HTTP and API.md fix.

OTLP/HTTP requires 415 for a body in a media type (or content coding) it does not define;
the answer keeps the house error shape.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from netra.apps import all_in_one
from support.accounts import bearer, signup
from support.apps import running_app


async def test_a_body_otlp_does_not_define_is_415(pg_settings: Callable[..., Any]) -> None:
    async with running_app(all_in_one.create_app(pg_settings())) as client:
        owner = bearer((await signup(client, org_name="OTLP 415"))["access_token"])
        made = await client.post(
            "/api/v1/api-keys", json={"name": "otel", "scopes": ["usage:write"]}, headers=owner
        )
        assert made.status_code == 201, made.text
        key = bearer(made.json()["key"])
        for headers in (
            {"Content-Type": "text/plain"},
            {"Content-Type": "application/json", "Content-Encoding": "br"},
        ):
            r = await client.post("/v1/traces", content=b"{}", headers={**key, **headers})
            assert r.status_code == 415, r.text
            error = r.json()["error"]
            assert error["code"] == "unsupported_media_type"
            assert headers.get("Content-Encoding", headers["Content-Type"]) in error["message"]
        # The encodings OTLP defines are read: an empty export is a success.
        r = await client.post(
            "/v1/traces", content=b"{}", headers={**key, "Content-Type": "application/json"}
        )
        assert r.status_code == 200, r.text
