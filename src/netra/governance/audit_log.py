"""Reading the audit log: one organisation's events in order, a page at a time.

``after`` is either an RFC 3339 time (events after it) or the ``next_after`` cursor of the
previous page (``<time>~<id>``: no event is skipped or repeated when several share a time).
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from sqlalchemy import and_, or_, select
from sqlalchemy.ext.asyncio import AsyncSession

from netra.auth.models import User
from netra.core.audit import AuditEvent
from netra.core.errors import ValidationFailed

MAX_PAGE = 500


def _iso(value: datetime) -> str:
    return value.astimezone(UTC).isoformat().replace("+00:00", "Z")


def parse_after(after: str | None) -> tuple[datetime, str] | None:
    if after is None or not after.strip():
        return None
    text, _, event_id = after.strip().partition("~")
    try:
        moment = datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError:
        raise ValidationFailed(
            "after: expected an RFC 3339 time or the next_after of a previous page",
            details={"field": "after"},
        ) from None
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    if len(event_id) > 32 or not all(c in "0123456789abcdef" for c in event_id):
        raise ValidationFailed("after: malformed cursor", details={"field": "after"})
    try:
        return moment.astimezone(UTC), event_id
    except OverflowError:  # 0001-01-01T00:00:00+05:00: before year 1 in UTC
        raise ValidationFailed(
            "after: outside the years 1..9999 in UTC", details={"field": "after"}
        ) from None


def event_out(event: AuditEvent, email: str | None) -> dict[str, Any]:
    return {
        "id": event.id,
        "created_at": _iso(event.created_at),
        "action": event.action,
        "outcome": event.outcome,
        "actor": {"user_id": event.user_id, "email": email},
        "ip": event.ip,
        "details": event.details or {},
    }


async def audit_page(
    session: AsyncSession, org_id: str, after: str | None, limit: int
) -> dict[str, Any]:
    cursor = parse_after(after)
    stmt = (
        select(AuditEvent, User.email)
        .outerjoin(User, User.id == AuditEvent.user_id)
        .where(AuditEvent.org_id == org_id)
    )
    if cursor is not None:
        moment, event_id = cursor
        later = AuditEvent.created_at > moment
        stmt = stmt.where(
            or_(later, and_(AuditEvent.created_at == moment, AuditEvent.id > event_id))
            if event_id
            else later
        )
    rows = (
        await session.execute(
            stmt.order_by(AuditEvent.created_at, AuditEvent.id).limit(min(limit, MAX_PAGE))
        )
    ).all()
    events = [event_out(event, email) for event, email in rows]
    last = rows[-1][0] if rows else None
    return {
        "events": events,
        "next_after": f"{_iso(last.created_at)}~{last.id}" if last is not None else None,
    }
