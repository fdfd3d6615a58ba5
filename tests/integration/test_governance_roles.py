"""U18: each role's allowed and refused calls on REST and /ws, invitations, role changes and
removals taking effect at once (PostgreSQL, Redis, a real server, real WebSocket clients)."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from datetime import timedelta
from typing import Any

import httpx
import pytest
import websockets
from sqlalchemy import update
from websockets.exceptions import ConnectionClosed

from netra.apps.all_in_one import create_app
from netra.auth.invitations import Invitation
from netra.core.db import utcnow
from support.accounts import STRONG_PASSWORD, bearer, new_email, signup
from support.members import add_member, invite, join
from support.realtime import Client, LiveServer, live_server

RECORD = {
    "timestamp": "2026-01-05T10:00:00Z", "provider": "openai", "model": "gpt-4o",
    "input_tokens": 100, "output_tokens": 20,
}  # fmt: skip

# (method, path, body) -> the roles allowed; every other role is refused with 403.
MATRIX: list[tuple[str, str, Any, set[str]]] = [
    ("GET", "/api/v1/usage/summary", None, {"owner", "admin", "member", "viewer"}),
    ("POST", "/api/v1/usage", {"records": [RECORD]}, {"owner", "admin", "member"}),
    ("POST", "/api/v1/analyses", {}, {"owner", "admin", "member"}),
    ("GET", "/api/v1/budgets", None, {"owner", "admin", "member", "viewer"}),
    ("POST", "/api/v1/budgets", {"scope": "org", "period": "day", "limit_usd": 5},
     {"owner", "admin"}),
    ("GET", "/api/v1/webhooks", None, {"owner", "admin", "member", "viewer"}),
    ("GET", "/api/v1/threads", None, {"owner", "admin", "member", "viewer"}),
    ("POST", "/api/v1/threads", {"title": "t"}, {"owner", "admin", "member"}),
    ("GET", "/api/v1/members", None, {"owner", "admin", "member", "viewer"}),
    ("POST", "/api/v1/invitations", {"email": "", "role": "viewer"}, {"owner", "admin"}),
    ("GET", "/api/v1/audit", None, {"owner", "admin"}),
    ("GET", "/api/v1/org/export", None, {"owner"}),
    ("DELETE", "/api/v1/org", {"confirm": "not the name"}, {"owner"}),
]  # fmt: skip


@pytest.fixture
async def srv(pg_settings: Any) -> AsyncIterator[LiveServer]:
    settings = pg_settings(
        requests_per_min_free=100_000, placeholder_pipeline=True, placeholder_step_delay_s=0.01,
        budgets_max_free=50, runs_org_free=10,
    )  # fmt: skip
    async with live_server(create_app(settings)) as server:
        yield server


async def _poll(check: Any, wait_s: float = 10.0) -> Any:
    """Call ``check()`` until it returns something truthy (a generous deadline, no fixed wait)."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + wait_s
    while True:
        got = await check()
        if got:
            return got
        assert loop.time() < deadline, "condition not met in time"
        await asyncio.sleep(0.1)


async def _org(client: httpx.AsyncClient) -> dict[str, dict[str, Any]]:
    owner = await signup(client, org_name="Acme")
    people = {"owner": owner}
    for role in ("admin", "member", "viewer"):
        people[role] = await add_member(client, owner["access_token"], role)
    return people


async def test_each_role_is_allowed_and_refused_exactly_its_calls(srv: LiveServer) -> None:
    async with httpx.AsyncClient(base_url=srv.url, timeout=30) as client:
        people = await _org(client)
        org_ids = {p["user"]["org_id"] for p in people.values()}
        assert len(org_ids) == 1, "invited people join the inviter's organisation"
        for role, person in people.items():
            me = (await client.get("/auth/me", headers=bearer(person["access_token"]))).json()
            assert me["role"] == role
        for method, path, body, allowed in MATRIX:
            for role, person in people.items():
                if path == "/api/v1/invitations":
                    body = {"email": new_email(f"by-{role}"), "role": "viewer"}
                if path == "/api/v1/budgets" and method == "POST":
                    body = {"scope": f"feature:{role}", "period": "day", "limit_usd": 5}
                answer = await client.request(
                    method, path, json=body, headers=bearer(person["access_token"])
                )
                if role in allowed:
                    # The owner's DELETE /org with a wrong name is refused by validation only.
                    expected = {422} if path == "/api/v1/org" else {200, 201}
                    assert answer.status_code in expected, (role, method, path, answer.text)
                else:
                    assert answer.status_code == 403, (role, method, path, answer.text)
                    assert answer.json()["error"]["code"] == "forbidden"


async def test_roles_on_the_websocket(srv: LiveServer) -> None:
    async with httpx.AsyncClient(base_url=srv.url, timeout=30) as client:
        people = await _org(client)
    for role, person in people.items():
        ws = await Client.connect(srv.ws_url, person["access_token"])
        try:
            await ws.send("user_message", {"text": "where does the money go?"}, f"{role}-1")
            frame = await ws.recv_type("error" if role == "viewer" else "ack")
            if role == "viewer":
                assert frame["payload"]["code"] == "forbidden" and frame["id"] == "viewer-1"
                await ws.send("cancel_run", {"run_id": "x" * 32}, "viewer-2")
                refused = await ws.recv_type("error")
                assert refused["payload"]["code"] == "forbidden"
                await ws.send("ping", {}, "p")
                assert (await ws.recv_type("pong"))["id"] == "p"  # the socket stays open
            else:
                assert frame["payload"]["run_id"]
        finally:
            await ws.close()


async def test_admins_never_touch_owners_and_an_org_keeps_an_owner(srv: LiveServer) -> None:
    async with httpx.AsyncClient(base_url=srv.url, timeout=30) as client:
        people = await _org(client)
        owner, admin = people["owner"], people["admin"]
        owner_id = owner["user"]["id"]
        refused = await client.patch(
            f"/api/v1/members/{owner_id}", json={"role": "viewer"},
            headers=bearer(admin["access_token"]),
        )  # fmt: skip
        assert refused.status_code == 403
        refused = await client.post(
            "/api/v1/invitations", json={"email": new_email(), "role": "owner"},
            headers=bearer(admin["access_token"]),
        )  # fmt: skip
        assert refused.status_code == 403
        last = await client.patch(
            f"/api/v1/members/{owner_id}", json={"role": "admin"},
            headers=bearer(owner["access_token"]),
        )  # fmt: skip
        assert last.status_code == 409 and "owner" in last.json()["error"]["message"]
        gone = await client.delete(
            f"/api/v1/members/{owner_id}", headers=bearer(owner["access_token"])
        )
        assert gone.status_code == 409
        bad = await client.patch(
            f"/api/v1/members/{admin['user']['id']}", json={"role": "root"},
            headers=bearer(owner["access_token"]),
        )  # fmt: skip
        assert (
            bad.status_code == 422
            and bad.json()["error"]["details"]["fields"][0]["field"] == "role"
        )
        other = await signup(client)
        foreign = await client.delete(
            f"/api/v1/members/{other['user']['id']}", headers=bearer(owner["access_token"])
        )
        assert foreign.status_code == 404  # another organisation's member does not exist here


async def test_a_role_change_and_a_removal_take_effect_at_once(srv: LiveServer) -> None:
    async with httpx.AsyncClient(base_url=srv.url, timeout=30) as client:
        people = await _org(client)
        owner, member = people["owner"], people["member"]
        ws = await websockets.connect(srv.ws_url, additional_headers=bearer(member["access_token"]))
        await ws.recv()  # connection_established
        changed = await client.patch(
            f"/api/v1/members/{member['user']['id']}", json={"role": "viewer"},
            headers=bearer(owner["access_token"]),
        )  # fmt: skip
        assert changed.status_code == 200 and changed.json()["role"] == "viewer"
        old = await client.get("/api/v1/members", headers=bearer(member["access_token"]))
        assert old.status_code == 401, "the token carrying the old role is revoked"
        try:
            while True:
                await asyncio.wait_for(ws.recv(), 5)
        except ConnectionClosed as exc:
            assert exc.rcvd is not None and exc.rcvd.code == 4401

        async def fresh_token() -> str | None:
            # A token issued in the same second as the revocation is covered by it: poll.
            pair = await client.post(
                "/auth/refresh", json={"refresh_token": member["refresh_token"]}
            )
            assert pair.status_code == 200, pair.text
            member["refresh_token"] = pair.json()["refresh_token"]
            token: str = pair.json()["access_token"]
            me = await client.get("/auth/me", headers=bearer(token))
            return token if me.status_code == 200 else None

        token = await _poll(fresh_token)
        me = (await client.get("/auth/me", headers=bearer(token))).json()
        assert me["role"] == "viewer" and "usage:write" not in me["permissions"]
        upload = await client.post("/api/v1/usage", json={"records": [RECORD]},
                                   headers=bearer(token))  # fmt: skip
        assert upload.status_code == 403

        removed = await client.delete(
            f"/api/v1/members/{member['user']['id']}", headers=bearer(owner["access_token"])
        )
        assert removed.status_code == 204
        assert (await client.get("/api/v1/members", headers=bearer(token))).status_code == 401
        again = await client.post("/auth/refresh", json={"refresh_token": member["refresh_token"]})
        assert again.status_code == 401, "the removed member's sessions are gone"
        listed = await client.get("/api/v1/members", headers=bearer(owner["access_token"]))
        assert member["user"]["id"] not in [m["id"] for m in listed.json()["members"]]


async def test_an_invitation_is_single_use_expiring_and_for_its_address(srv: LiveServer) -> None:
    async with httpx.AsyncClient(base_url=srv.url, timeout=30) as client:
        owner = await signup(client)
        token = owner["access_token"]
        invitation = await invite(client, token, "member")
        assert set(invitation) >= {"id", "email", "role", "expires_at", "token"}
        wrong = await client.post(
            "/auth/register",
            json={"email": new_email(), "password": STRONG_PASSWORD,
                  "invitation": invitation["token"]},
        )  # fmt: skip
        assert wrong.status_code == 403
        joined = await join(client, invitation)
        assert joined["user"]["org_id"] == owner["user"]["org_id"]
        reused = await client.post(
            "/auth/register",
            json={"email": invitation["email"].replace("@", "2@"), "password": STRONG_PASSWORD,
                  "invitation": invitation["token"]},
        )  # fmt: skip
        assert reused.status_code == 403

        late = await invite(client, token, "viewer")
        runtime = srv.runtime
        async with runtime.db.unit_of_work() as session:
            await session.execute(
                update(Invitation)
                .where(Invitation.id == late["id"])
                .values(expires_at=utcnow() - timedelta(seconds=1))
            )
        expired = await client.post(
            "/auth/register",
            json={"email": late["email"], "password": STRONG_PASSWORD,
                  "invitation": late["token"]},
        )  # fmt: skip
        assert expired.status_code == 403
        taken = await client.post(
            "/api/v1/invitations", json={"email": joined["email"], "role": "viewer"},
            headers=bearer(token),
        )  # fmt: skip
        assert taken.status_code == 409
