"""Webhooks: registration (create, list, delete) and :func:`emit_event`, which other domains
call when something happened (``analysis.completed``, ``run.completed``, ``budget.alert``).

``emit_event`` records the event, with its exact body, and one pending delivery per subscribed
webhook of the organisation IN THE CALLER'S UNIT OF WORK (an outbox): the event commits with
the change that caused it, or not at all. Only after that commit are the deliveries handed to
this process's dispatcher (``after_commit``), without waiting for them. A crash between the
commit and the hand-off loses nothing: the rows are pending, and the dispatcher's sweeper
delivers pending rows (where no dispatcher runs, the sweeper of another process does).
"""

from __future__ import annotations

import json
from collections.abc import Callable
from datetime import datetime
from typing import TYPE_CHECKING, Any

import structlog
from pydantic_core import to_jsonable_python
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from netra.billing.destinations import Resolver, check_destination, resolve_host
from netra.billing.models import Webhook, WebhookDelivery, WebhookEvent
from netra.billing.repository import WebhookDeliveryRepository, WebhookRepository
from netra.billing.schemas import EVENT_TYPES, WebhookIn
from netra.billing.signing import new_secret
from netra.core.context import UserContext
from netra.core.db import after_commit, new_id, utcnow
from netra.core.errors import NotFound
from netra.core.runtime import Runtime
from netra.core.secrets_box import secret_box
from netra.core.services import Service
from netra.core.settings import Settings
from netra.tiers import Limit, check, limits_for

if TYPE_CHECKING:
    from netra.billing.delivery import WebhookDispatcher

log = structlog.get_logger("netra.webhooks")

DISPATCHER: Service[WebhookDispatcher] = Service("webhook_dispatcher")  # this process's


async def create_webhook(
    session: AsyncSession,
    user: UserContext,
    body: WebhookIn,
    settings: Settings,
    resolve: Resolver = resolve_host,
) -> tuple[Webhook, str]:
    """The new webhook and its secret in clear (the only time it is; stored encrypted)."""
    repo = WebhookRepository(session, user.org_id)
    check(limits_for(settings, user.tier), Limit.MAX_WEBHOOKS, await repo.count())
    await check_destination(body.url, settings, resolve)
    secret = new_secret()
    hook = repo.add(
        Webhook(
            id=new_id(),
            url=body.url,
            events=list(body.events),
            secret=secret_box(settings).seal(secret),  # encrypted at rest
            created_by=user.user_id,
            created_at=utcnow(),
        )
    )
    await session.flush()
    return hook, secret


async def list_webhooks(session: AsyncSession, user: UserContext) -> list[Webhook]:
    return await WebhookRepository(session, user.org_id).all()


async def get_webhook(session: AsyncSession, user: UserContext, webhook_id: str) -> Webhook:
    hook = await WebhookRepository(session, user.org_id).get(webhook_id)
    if hook is None:
        raise NotFound(f"webhook '{webhook_id}' not found")
    return hook


async def delete_webhook(session: AsyncSession, user: UserContext, webhook_id: str) -> None:
    """Deletes the webhook and, by cascade, its delivery records."""
    hook = await get_webhook(session, user, webhook_id)
    await session.delete(hook)
    await session.flush()


async def list_deliveries(
    session: AsyncSession, user: UserContext, webhook_id: str, limit: int = 100
) -> list[tuple[WebhookDelivery, str]]:
    """The webhook's latest deliveries, newest first, with their event type."""
    await get_webhook(session, user, webhook_id)
    repo = WebhookDeliveryRepository(session, user.org_id)
    stmt = (
        repo.select(WebhookDelivery, WebhookEvent.type)
        .join(WebhookEvent, WebhookEvent.id == WebhookDelivery.event_id)
        .where(WebhookDelivery.webhook_id == webhook_id)
        .order_by(WebhookDelivery.created_at.desc(), WebhookDelivery.id)
        .limit(limit)
    )
    return [(row[0], row[1]) for row in (await session.execute(stmt)).all()]


def iso(ts: datetime) -> str:
    return ts.isoformat().replace("+00:00", "Z")


def event_body(event_id: str, type_: str, created_at: datetime, data: dict[str, Any]) -> str:
    """The exact JSON text delivered and signed (compact, keys in a fixed order)."""
    payload = {"id": event_id, "type": type_, "created_at": iso(created_at), "data": data}
    return json.dumps(to_jsonable_python(payload), separators=(",", ":"), ensure_ascii=False)


async def record_event(
    session: AsyncSession, org_id: str, type_: str, data: dict[str, Any]
) -> list[str]:
    """Store the event and a pending delivery per subscribed webhook; their ids (flush only)."""
    hooks = [h for h in await WebhookRepository(session, org_id).all() if type_ in h.events]
    if not hooks:
        return []
    now = utcnow()
    event_id = new_id()
    event = WebhookEvent(id=event_id, org_id=org_id, type=type_, created_at=now,
                         body=event_body(event_id, type_, now, data))  # fmt: skip
    session.add(event)
    await session.flush()  # the event row first: deliveries reference it
    deliveries = [
        WebhookDelivery(
            id=new_id(),
            org_id=org_id,
            webhook_id=hook.id,
            event_id=event.id,
            status="pending",
            attempts=0,
            next_attempt_at=now,
            created_at=now,
            updated_at=now,
        )
        for hook in hooks
    ]
    session.add_all(deliveries)
    await session.flush()
    return [d.id for d in deliveries]


Deliver = Callable[[list[str]], object]


class Handoff:
    """What :func:`deliver_via` gives: hands ids to this process's dispatcher, within the
    organisation's share when it is told which one (see ``WebhookDispatcher.submit``)."""

    def __init__(self, runtime: Runtime) -> None:
        self.runtime = runtime

    def __call__(self, ids: list[str], org_id: str | None = None) -> None:
        dispatcher = self.runtime.services.get(DISPATCHER)
        if dispatcher is not None:
            dispatcher.submit(ids, org_id=org_id)


def deliver_via(runtime: Runtime) -> Deliver:
    """Hand delivery ids to this process's dispatcher, when one runs (looked up at hand-off,
    so the order in which components start does not matter)."""
    return Handoff(runtime)


async def emit_event(
    session: AsyncSession,
    org_id: str,
    type: str,
    data: dict[str, Any],
    *,
    deliver: Deliver | None = None,
) -> list[str]:
    """Record an event of ``org_id`` in the caller's unit of work; after its commit, hand the
    deliveries to ``deliver`` (never before: a rolled-back change sends nothing). Returns the
    delivery ids. An unknown ``type`` is a programming error and raises ``ValueError``."""
    if type not in EVENT_TYPES:
        raise ValueError(f"unknown webhook event type {type!r}; known: {', '.join(EVENT_TYPES)}")
    ids = await record_event(session, org_id, type, data)
    if ids and deliver is not None:

        async def hand_over() -> None:
            try:
                if isinstance(deliver, Handoff):
                    deliver(ids, org_id)
                else:
                    deliver(ids)
            except Exception:  # the rows are pending: the sweeper delivers them
                log.exception("webhook hand-off failed", org_id=org_id, type=type)

        after_commit(session, hand_over)
    return ids


async def pending_ids(
    session: AsyncSession, limit: int, per_org: int | None = None
) -> list[tuple[str, str]]:
    """Due pending deliveries of every organisation, ``(id, org_id)``, oldest due first: system
    work for the sweeper, which is why it is not tenant-scoped (each delivery carries its own
    org and webhook). With ``per_org``, at most that many of any one organisation, so one
    organisation's pile of deliveries never hides another's."""
    d = WebhookDelivery
    due = (d.status == "pending", d.next_attempt_at <= utcnow())
    if per_org is None:
        stmt = select(d.id, d.org_id).where(*due).order_by(d.next_attempt_at).limit(limit)
        return [(row[0], row[1]) for row in (await session.execute(stmt)).all()]
    rank = (
        func.row_number()
        .over(partition_by=d.org_id, order_by=(d.next_attempt_at, d.id))
        .label("rank")
    )
    ranked = select(d.id, d.org_id, d.next_attempt_at, rank).where(*due).subquery()
    stmt = (
        select(ranked.c.id, ranked.c.org_id)
        .where(ranked.c.rank <= per_org)
        .order_by(ranked.c.next_attempt_at)
        .limit(limit)
    )
    return [(row[0], row[1]) for row in (await session.execute(stmt)).all()]
