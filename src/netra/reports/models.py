"""Tables of the reports domain: stored analysis reports."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import JSON, Index, String
from sqlalchemy.orm import Mapped, mapped_column

from netra.core.db import Base, IdMixin, UtcDateTime, utcnow


class StoredAnalysis(IdMixin, Base):
    """An analysis report as returned to the caller (API.md "Analysis report")."""

    __tablename__ = "analyses"
    __table_args__ = (Index("ix_analyses_org_created", "org_id", "created_at"),)

    org_id: Mapped[str] = mapped_column(String(32), nullable=False)
    created_at: Mapped[datetime] = mapped_column(UtcDateTime(), default=utcnow, nullable=False)
    period_start: Mapped[datetime | None] = mapped_column(UtcDateTime(), nullable=True)
    period_end: Mapped[datetime | None] = mapped_column(UtcDateTime(), nullable=True)
    report: Mapped[dict[str, Any]] = mapped_column(JSON, nullable=False)
