"""Audit log: one row per security-relevant event: who (``user_id``), what (``action``,
``outcome``, ``details``), when (``created_at``), from where (``ip``).

Actions: ``auth.signup``, ``auth.login`` (failures with outcome ``failure``), ``auth.logout``,
``auth.refresh_reuse``, ``auth.disable``, ``member.invite`` / ``invite_cancel`` / ``join`` /
``role_change`` / ``remove``, ``api_key.create`` / ``revoke``, ``usage.upload``,
``budget.create`` / ``delete``, ``webhook.create`` / ``delete``, ``retention.purge``,
``org.export``, ``org.delete``. Rows are written in the caller's unit of work, so an audited
change and its audit row commit (or roll back) together.
"""

from __future__ import annotations

from datetime import datetime
from typing import TYPE_CHECKING, Any

from sqlalchemy import JSON, Index, String
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import Mapped, mapped_column

from netra.core.client_address import client_address
from netra.core.db import Base, IdMixin, UtcDateTime, utcnow

if TYPE_CHECKING:
    from starlette.requests import HTTPConnection


class AuditEvent(IdMixin, Base):
    __tablename__ = "audit_events"
    __table_args__ = (Index("ix_audit_events_org_created", "org_id", "created_at"),)

    created_at: Mapped[datetime] = mapped_column(UtcDateTime(), default=utcnow, nullable=False)
    org_id: Mapped[str | None] = mapped_column(String(32), nullable=True)
    user_id: Mapped[str | None] = mapped_column(String(32), nullable=True)
    action: Mapped[str] = mapped_column(String(64), nullable=False)
    outcome: Mapped[str] = mapped_column(String(16), nullable=False, default="success")
    ip: Mapped[str | None] = mapped_column(String(64), nullable=True)
    details: Mapped[dict[str, Any]] = mapped_column(JSON, nullable=False, default=dict)


def record_audit(
    session: AsyncSession,
    action: str,
    *,
    org_id: str | None = None,
    user_id: str | None = None,
    outcome: str = "success",
    ip: str | None = None,
    **details: Any,
) -> AuditEvent:
    event = AuditEvent(
        action=action, org_id=org_id, user_id=user_id, outcome=outcome, ip=ip, details=details
    )
    session.add(event)
    return event


def request_ip(request: HTTPConnection) -> str | None:
    """Where a request came from: the peer, or behind a trusted proxy (``NETRA_TRUSTED_PROXIES``)
    the client it forwarded for. The one answer for the audit log and the address throttles."""
    peer = request.client.host if request.client else None
    runtime = getattr(request.app.state, "runtime", None)
    proxies = runtime.settings.trusted_proxies if runtime is not None else ""
    return client_address(peer, request.headers, proxies)
