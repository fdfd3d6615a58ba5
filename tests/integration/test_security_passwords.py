"""Finding 11 on PostgreSQL and Redis: password change and reset (a one-time, expiring token
e-mailed through a real SMTP server the test starts, aiosmtpd), and webhook secrets stored
encrypted."""

from __future__ import annotations

import asyncio
import email
import re
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import timedelta
from typing import Any

from aiosmtpd.controller import Controller
from sqlalchemy import select, update

from netra.apps.all_in_one import create_app
from netra.auth.models import PasswordReset
from netra.billing.models import Webhook
from netra.core.db import utcnow
from support.accounts import STRONG_PASSWORD, bearer, signup
from support.apps import running_app
from support.services import free_port

NEW_PASSWORD = "Another-Long-Passphrase-77"


class Mailbox:
    def __init__(self) -> None:
        self.messages: list[email.message.Message] = []

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        self.messages.append(email.message_from_bytes(envelope.content))
        return "250 OK"

    async def wait(self, count: int) -> list[email.message.Message]:
        for _ in range(500):
            if len(self.messages) >= count:
                return self.messages
            await asyncio.sleep(0.02)
        raise AssertionError(f"{len(self.messages)} e-mails, expected {count}")


@contextmanager
def smtp_server() -> Iterator[tuple[Mailbox, int]]:
    mailbox, port = Mailbox(), free_port()
    controller = Controller(mailbox, hostname="127.0.0.1", port=port)
    controller.start()
    try:
        yield mailbox, port
    finally:
        controller.stop()


def _token(message: email.message.Message) -> str:
    payload = message.get_payload(decode=True)
    assert isinstance(payload, bytes)
    found = re.search(r"#reset=([\w-]+)", payload.decode())
    assert found, payload
    return found.group(1)


async def _login(client: Any, mail: str, password: str) -> int:
    answer = await client.post("/auth/login", json={"email": mail, "password": password})
    return int(answer.status_code)


async def test_password_reset_by_e_mail_is_one_time_and_expires(pg_settings) -> None:  # type: ignore[no-untyped-def]
    with smtp_server() as (mailbox, port):
        settings = pg_settings(embedded_workers=False, smtp_host="127.0.0.1", smtp_port=port,
                               smtp_starttls=False)  # fmt: skip
        app = create_app(settings)
        async with running_app(app) as client:
            account = await signup(client)
            old_access = account["access_token"]
            # Unknown addresses get the same answer and no e-mail.
            unknown = await client.post("/auth/password/reset", json={"email": "no@example.com"})
            asked = await client.post("/auth/password/reset", json={"email": account["email"]})
            assert unknown.status_code == asked.status_code == 202
            assert unknown.json() == asked.json()
            [message] = await mailbox.wait(1)
            assert message["To"] == account["email"]
            token = _token(message)

            confirm = {"token": token, "new_password": NEW_PASSWORD}
            done = await client.post("/auth/password/reset/confirm", json=confirm)
            assert done.status_code == 204, done.text
            assert await _login(client, account["email"], STRONG_PASSWORD) == 401
            assert await _login(client, account["email"], NEW_PASSWORD) == 200
            # Every earlier session ended; the token works once.
            assert (await client.get("/auth/me", headers=bearer(old_access))).status_code == 401
            again = await client.post("/auth/password/reset/confirm", json=confirm)
            assert again.status_code == 400 and again.json()["error"]["details"]["field"] == "token"

            # An expired token is refused (its expiry moved into the past in the database).
            await client.post("/auth/password/reset", json={"email": account["email"]})
            second = _token((await mailbox.wait(2))[1])

            async def expire(session: Any) -> None:
                await session.execute(
                    update(PasswordReset)
                    .where(PasswordReset.used_at.is_(None))
                    .values(expires_at=utcnow() - timedelta(seconds=1))
                )

            await app.state.runtime.db.run(expire)
            late = await client.post(
                "/auth/password/reset/confirm", json={"token": second, "new_password": NEW_PASSWORD}
            )
            assert late.status_code == 400

            async def stored(session: Any) -> list[str]:
                return list(await session.scalars(select(PasswordReset.token_hash)))

            hashes = await app.state.runtime.db.run(stored)
            assert token not in hashes and second not in hashes  # only hashes are kept


async def test_password_change_needs_the_current_one_and_ends_sessions(pg_settings) -> None:  # type: ignore[no-untyped-def]
    async with running_app(create_app(pg_settings(embedded_workers=False))) as client:
        account = await signup(client)
        auth = bearer(account["access_token"])
        wrong = await client.post(
            "/auth/password",
            json={"current_password": "not-it-at-all", "new_password": NEW_PASSWORD},
            headers=auth,
        )
        assert wrong.status_code == 401
        weak = await client.post(
            "/auth/password",
            json={"current_password": STRONG_PASSWORD, "new_password": "short"},
            headers=auth,
        )
        assert weak.status_code == 422
        changed = await client.post(
            "/auth/password",
            json={"current_password": STRONG_PASSWORD, "new_password": NEW_PASSWORD},
            headers=auth,
        )
        assert changed.status_code == 204
        assert (await client.get("/auth/me", headers=auth)).status_code == 401
        refresh = await client.post(
            "/auth/refresh", json={"refresh_token": account["refresh_token"]}
        )
        assert refresh.status_code == 401
        assert await _login(client, account["email"], NEW_PASSWORD) == 200


async def test_webhook_secrets_are_stored_encrypted(pg_settings) -> None:  # type: ignore[no-untyped-def]
    app = create_app(pg_settings(embedded_workers=False))
    async with running_app(app) as client:
        auth = bearer((await signup(client))["access_token"])
        created = await client.post(
            "/api/v1/webhooks",
            json={"url": "http://127.0.0.1:9/hook", "events": ["run.completed"]},
            headers=auth,
        )
        assert created.status_code == 201, created.text
        secret = created.json()["secret"]

        async def stored(session: Any) -> str:
            hook = await session.get(Webhook, created.json()["id"])
            return str(hook.secret)

        at_rest = await app.state.runtime.db.run(stored)
        assert at_rest.startswith("enc:v1:") and secret not in at_rest


async def test_an_invitation_is_e_mailed_and_its_link_joins(pg_settings) -> None:  # type: ignore[no-untyped-def]
    with smtp_server() as (mailbox, port):
        settings = pg_settings(embedded_workers=False, smtp_host="127.0.0.1", smtp_port=port,
                               smtp_starttls=False)  # fmt: skip
        async with running_app(create_app(settings)) as client:
            owner = await signup(client)
            invited = f"invited-{owner['email']}"
            made = await client.post(
                "/api/v1/invitations",
                json={"email": invited, "role": "viewer"},
                headers=bearer(owner["access_token"]),
            )
            assert made.status_code == 201, made.text
            [message] = await mailbox.wait(1)
            assert message["To"] == invited
            payload = message.get_payload(decode=True)
            assert isinstance(payload, bytes)
            found = re.search(r"\?invitation=([\w-]+)", payload.decode())
            assert found and found.group(1) == made.json()["token"]
            joined = await client.post(
                "/auth/register",
                json={"email": invited, "password": STRONG_PASSWORD,
                      "invitation": found.group(1)},
            )  # fmt: skip
            assert joined.status_code == 201, joined.text
            login = await client.post(
                "/auth/login", json={"email": invited, "password": STRONG_PASSWORD}
            )
            me = await client.get("/auth/me", headers=bearer(login.json()["access_token"]))
            assert me.json()["role"] == "viewer"
            assert me.json()["org_id"] == owner["user"]["org_id"]
