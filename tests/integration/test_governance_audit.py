"""I14: sign-ins, failed sign-ins, member changes, uploads, budget and webhook changes and data
deletion are in the audit log: who, what, when, from where; owners and admins read it, members
and viewers do not, and no organisation reads another's."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

from netra.apps.all_in_one import create_app
from netra.governance.retention import purge_once
from support.accounts import bearer, signup
from support.apps import running_app
from support.members import add_member


def _record(days_ago: int, n: int) -> dict[str, Any]:
    when = datetime.now(UTC) - timedelta(days=days_ago)
    return {
        "timestamp": when.isoformat(), "provider": "openai", "model": "gpt-4o",
        "input_tokens": 100, "output_tokens": 10, "request_id": f"audit-{days_ago}-{n}",
    }  # fmt: skip


async def _all_events(client: Any, token: str, page: int = 4) -> list[dict[str, Any]]:
    """Every event, a page at a time through ``next_after`` (no event twice, none skipped)."""
    events: list[dict[str, Any]] = []
    after = None
    while True:
        params: dict[str, Any] = {"limit": page}
        if after:
            params["after"] = after
        answer = await client.get("/api/v1/audit", params=params, headers=bearer(token))
        assert answer.status_code == 200, answer.text
        body = answer.json()
        events += body["events"]
        if len(body["events"]) < page:
            return events
        after = body["next_after"]


async def test_audit_trail_of_each_kind_readable_by_owners_only(pg_settings: Any) -> None:
    app = create_app(pg_settings(requests_per_min_free=10_000, embedded_workers=False))
    async with running_app(app) as client:
        owner = await signup(client, org_name="Audited")
        token = owner["access_token"]
        who = bearer(token)
        failed = await client.post(
            "/auth/login", json={"email": owner["email"], "password": "wrong-password-123"}
        )
        assert failed.status_code == 401
        admin = await add_member(client, token, "admin")
        member = await add_member(client, token, "member")
        stored = await client.post(
            "/api/v1/usage", json={"records": [_record(500, 1), _record(1, 2)]}, headers=who
        )
        assert stored.status_code == 200 and stored.json()["accepted"] == 2
        csv_body = "timestamp,provider,model,input_tokens,output_tokens\n" + (
            f"{datetime.now(UTC).isoformat()},openai,gpt-4o,5,1\n"
        )
        uploaded = await client.post(
            "/api/v1/usage/upload", files={"file": ("u.csv", csv_body, "text/csv")}, headers=who
        )
        assert uploaded.status_code == 200, uploaded.text
        budget = await client.post(
            "/api/v1/budgets", json={"scope": "org", "period": "month", "limit_usd": 10},
            headers=who,
        )  # fmt: skip
        assert budget.status_code == 201
        assert (await client.delete(f"/api/v1/budgets/{budget.json()['id']}",
                                    headers=who)).status_code == 204  # fmt: skip
        hook = await client.post(
            "/api/v1/webhooks", headers=who,
            json={"url": "http://127.0.0.1:9/hook", "events": ["run.completed"]},
        )  # fmt: skip
        assert hook.status_code == 201, hook.text
        assert (await client.delete(f"/api/v1/webhooks/{hook.json()['id']}",
                                    headers=who)).status_code == 204  # fmt: skip
        key = await client.post(
            "/api/v1/api-keys", json={"name": "ci", "scopes": ["usage:read"]}, headers=who
        )
        assert key.status_code == 201
        assert (await client.delete(f"/api/v1/api-keys/{key.json()['id']}",
                                    headers=who)).status_code == 200  # fmt: skip
        changed = await client.patch(
            f"/api/v1/members/{member['user']['id']}", json={"role": "viewer"}, headers=who
        )
        assert changed.status_code == 200
        purged = await purge_once(app.state.runtime.db, app.state.runtime.settings)
        assert purged["usage_records"] >= 1
        assert (await client.delete(f"/api/v1/members/{member['user']['id']}",
                                    headers=who)).status_code == 204  # fmt: skip

        events = await _all_events(client, token)
        assert len({e["id"] for e in events}) == len(events), "no event twice across pages"
        times = [e["created_at"] for e in events]
        assert times == sorted(times)
        kinds = {(e["action"], e["outcome"]) for e in events}
        for expected in [
            ("auth.signup", "success"), ("auth.login", "success"), ("auth.login", "failure"),
            ("member.invite", "success"), ("member.join", "success"),
            ("member.role_change", "success"), ("member.remove", "success"),
            ("usage.upload", "success"), ("budget.create", "success"), ("budget.delete", "success"),
            ("webhook.create", "success"), ("webhook.delete", "success"),
            ("retention.purge", "success"), ("api_key.create", "success"),
            ("api_key.revoke", "success"),
        ]:  # fmt: skip
            assert expected in kinds, expected
        by_action = {e["action"]: e for e in events}
        change = by_action["member.role_change"]
        assert change["actor"] == {"user_id": owner["user"]["id"], "email": owner["email"]}
        assert (
            change["details"]["old_role"] == "member" and change["details"]["new_role"] == "viewer"
        )
        assert change["ip"] and change["created_at"].endswith("Z")
        assert by_action["retention.purge"]["details"]["deleted"]["usage_records"] == 1
        uploads = [e for e in events if e["action"] == "usage.upload"]
        assert {u["details"]["via"] for u in uploads} == {"usage", "upload"}

        # Admins read it too; members are refused; another org sees none of it.
        assert len(await _all_events(client, admin["access_token"])) >= len(events)
        viewer = await add_member(client, token, "viewer")
        for person in (viewer, await add_member(client, token, "member")):
            refused = await client.get("/api/v1/audit", headers=bearer(person["access_token"]))
            assert refused.status_code == 403
        stranger = await signup(client)
        theirs = await _all_events(client, stranger["access_token"])
        assert {e["action"] for e in theirs} <= {"auth.signup", "auth.login"}
        assert all(e["actor"]["user_id"] == stranger["user"]["id"] for e in theirs)

        bad = await client.get("/api/v1/audit", params={"after": "yesterday"}, headers=who)
        assert (
            bad.status_code == 422
            and bad.json()["error"]["details"]["fields"][0]["field"] == "after"
        )
        later = await client.get(
            "/api/v1/audit", params={"after": events[-1]["created_at"]}, headers=who
        )
        assert all(e["created_at"] > events[-1]["created_at"] for e in later.json()["events"])


async def test_from_where_is_the_client_behind_a_trusted_proxy_for_every_action(
    pg_settings: Any,
) -> None:
    """Every audit row names the same client address: behind a trusted proxy, the forwarded
    one (sign-ins already did; key, member, budget, webhook and upload rows gave the proxy's)."""
    client_ip = "203.0.113.9"
    settings = pg_settings(
        requests_per_min_free=10_000, embedded_workers=False, trusted_proxies="127.0.0.1"
    )
    async with running_app(create_app(settings)) as client:
        client.headers["X-Forwarded-For"] = client_ip
        owner = await signup(client, org_name="Proxied")
        who = bearer(owner["access_token"])
        calls = [
            ("/api/v1/api-keys", {"name": "ci", "scopes": ["usage:write"]}),
            ("/api/v1/budgets", {"scope": "org", "period": "month", "limit_usd": 10}),
            ("/api/v1/webhooks", {"url": "http://127.0.0.1:9/hook", "events": ["budget.alert"]}),
            ("/api/v1/invitations", {"email": "invited@example.com", "role": "viewer"}),
            ("/api/v1/usage", {"records": [_record(1, 1)]}),
        ]
        for path, body in calls:
            answer = await client.post(path, json=body, headers=who)
            assert answer.status_code in (200, 201), (path, answer.text)
        events = await _all_events(client, owner["access_token"], page=50)
        seen = {e["action"]: e["ip"] for e in events}
        for action in ("auth.signup", "auth.login", "api_key.create", "budget.create",
                       "webhook.create", "member.invite", "usage.upload"):  # fmt: skip
            assert seen.get(action) == client_ip, (action, seen)
