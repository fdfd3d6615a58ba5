"""Finding 9 through the real app on PostgreSQL and Redis: webhook URLs whose host is an IPv4
address wrapped in NAT64 or 6to4 are refused, in development too, with a generic message."""

from __future__ import annotations

from netra.apps.all_in_one import create_app
from support.accounts import bearer, signup
from support.apps import running_app


async def test_wrapped_internal_addresses_and_loopback_are_refused(pg_settings) -> None:  # type: ignore[no-untyped-def]
    app = create_app(
        pg_settings(env="development", embedded_workers=False, webhook_allow_loopback=False)
    )
    async with running_app(app) as client:
        auth = bearer((await signup(client))["access_token"])
        for url in (
            "http://[64:ff9b::7f00:1]:8080/hook",  # NAT64 around 127.0.0.1
            "http://[64:ff9b::a9fe:a9fe]/latest/meta-data",  # around 169.254.169.254
            "http://[64:ff9b:1:a00:0:5::]/x",  # local-use NAT64 around 10.0.0.5
            "http://[2002:7f00:1::1]/x",  # 6to4 around 127.0.0.1
            "http://127.0.0.1:8080/hook",  # development: still refused without the setting
            "http://localhost:8080/hook",  # a name: the answer must not say what it became
        ):
            answer = await client.post(
                "/api/v1/webhooks", json={"url": url, "events": ["run.completed"]}, headers=auth
            )
            assert answer.status_code == 422, (url, answer.text)
            error = answer.json()["error"]
            assert error["message"] == "url host is not an allowed webhook destination", url
            assert "127.0.0.1" not in answer.text.replace(url, "")
        assert (await client.get("/api/v1/webhooks", headers=auth)).json() == {"webhooks": []}
