"""Tables of the billing domain: budgets and their alerts, webhooks, events and deliveries."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import (
    JSON,
    Float,
    ForeignKey,
    Index,
    Integer,
    String,
    Text,
    UniqueConstraint,
)
from sqlalchemy.orm import Mapped, mapped_column

from netra.core.db import Base, CreatedMixin, IdMixin, UtcDateTime, utcnow


class Budget(IdMixin, CreatedMixin, Base):
    """A spending limit for one scope (``org``, ``feature:<f>``, ``model:<m>``) per period."""

    __tablename__ = "budgets"
    __table_args__ = (UniqueConstraint("org_id", "scope", "period", name="uq_budgets_scope"),)

    org_id: Mapped[str] = mapped_column(String(32), nullable=False)
    scope: Mapped[str] = mapped_column(Text, nullable=False)
    period: Mapped[str] = mapped_column(String(8), nullable=False)
    limit_usd: Mapped[float] = mapped_column(Float, nullable=False)
    created_by: Mapped[str | None] = mapped_column(String(64), nullable=True)


class BudgetAlert(IdMixin, CreatedMixin, Base):
    """A threshold crossed in one period window. The unique key is what stops alert storms."""

    __tablename__ = "budget_alerts"
    __table_args__ = (
        UniqueConstraint("budget_id", "threshold", "window_start", name="uq_budget_alerts_once"),
        Index("ix_budget_alerts_org_created", "org_id", "created_at"),
    )

    org_id: Mapped[str] = mapped_column(String(32), nullable=False)
    budget_id: Mapped[str] = mapped_column(
        String(32), ForeignKey("budgets.id", ondelete="CASCADE"), nullable=False
    )
    threshold: Mapped[int] = mapped_column(Integer, nullable=False)  # percent: 80 or 100
    window_start: Mapped[datetime] = mapped_column(UtcDateTime(), nullable=False)
    window_end: Mapped[datetime] = mapped_column(UtcDateTime(), nullable=False)
    spend_usd: Mapped[float] = mapped_column(Float, nullable=False)
    limit_usd: Mapped[float] = mapped_column(Float, nullable=False)


class Webhook(IdMixin, CreatedMixin, Base):
    """An endpoint of an organisation and the event types it receives.

    The secret is kept encrypted (NETRA_SECRETS_KEY) and decrypted to sign deliveries (HMAC
    needs it in clear); the API shows it once.
    """

    __tablename__ = "webhooks"
    __table_args__ = (Index("ix_webhooks_org", "org_id"),)

    org_id: Mapped[str] = mapped_column(String(32), nullable=False)
    url: Mapped[str] = mapped_column(Text, nullable=False)
    events: Mapped[list[str]] = mapped_column(JSON, nullable=False)
    secret: Mapped[str] = mapped_column(String(512), nullable=False)  # enc:v1:<Fernet token>
    created_by: Mapped[str | None] = mapped_column(String(64), nullable=True)


class WebhookEvent(IdMixin, CreatedMixin, Base):
    """One event as delivered: ``body`` holds the exact bytes signed and sent (UTF-8)."""

    __tablename__ = "webhook_events"
    __table_args__ = (Index("ix_webhook_events_org_created", "org_id", "created_at"),)

    org_id: Mapped[str] = mapped_column(String(32), nullable=False)
    type: Mapped[str] = mapped_column(String(64), nullable=False)
    body: Mapped[str] = mapped_column(Text, nullable=False)


class WebhookDelivery(IdMixin, CreatedMixin, Base):
    """One event to one webhook: its attempts and outcome.

    ``next_attempt_at`` is both the retry schedule and the claim: a process takes a due
    delivery by moving it forward by a lease and writing its token in ``claimed_by``, so two
    processes never send it at once, and one whose process died is taken again once the lease
    has passed.
    """

    __tablename__ = "webhook_deliveries"
    __table_args__ = (
        UniqueConstraint("webhook_id", "event_id", name="uq_webhook_deliveries_once"),
        Index("ix_webhook_deliveries_due", "status", "next_attempt_at"),
        Index("ix_webhook_deliveries_org_webhook", "org_id", "webhook_id"),
    )

    org_id: Mapped[str] = mapped_column(String(32), nullable=False)
    webhook_id: Mapped[str] = mapped_column(
        String(32), ForeignKey("webhooks.id", ondelete="CASCADE"), nullable=False
    )
    event_id: Mapped[str] = mapped_column(
        String(32), ForeignKey("webhook_events.id", ondelete="CASCADE"), nullable=False
    )
    status: Mapped[str] = mapped_column(String(16), nullable=False, default="pending")
    attempts: Mapped[int] = mapped_column(Integer, nullable=False, default=0)
    last_status_code: Mapped[int | None] = mapped_column(Integer, nullable=True)
    last_error: Mapped[str | None] = mapped_column(Text, nullable=True)
    next_attempt_at: Mapped[datetime] = mapped_column(UtcDateTime(), nullable=False, default=utcnow)
    claimed_by: Mapped[str | None] = mapped_column(String(32), nullable=True)
    delivered_at: Mapped[datetime | None] = mapped_column(UtcDateTime(), nullable=True)
    updated_at: Mapped[datetime] = mapped_column(UtcDateTime(), nullable=False, default=utcnow)
