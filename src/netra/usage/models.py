"""Tables of the usage domain: stored usage records, stored analysis reports, data versions."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import BigInteger, Boolean, Float, Index, Integer, String, Text, text
from sqlalchemy.orm import Mapped, mapped_column

from netra.core.db import Base, UtcDateTime, utcnow

# BIGSERIAL on PostgreSQL, INTEGER PRIMARY KEY (rowid) on SQLite.
_ROW_ID = BigInteger().with_variant(Integer(), "sqlite")


class UsageRow(Base):
    """One usage record of an organisation. ``end_user`` holds the record's ``user`` field
    (``user`` is a reserved word in PostgreSQL)."""

    __tablename__ = "usage_records"
    __table_args__ = (
        Index("ix_usage_records_org_timestamp", "org_id", "timestamp"),
        # Deduplication: one record per (org, request_id); records without an id never clash.
        Index(
            "uq_usage_records_org_request",
            "org_id",
            "request_id",
            unique=True,
            postgresql_where=text("request_id IS NOT NULL"),
            sqlite_where=text("request_id IS NOT NULL"),
        ),
    )

    id: Mapped[int] = mapped_column(_ROW_ID, primary_key=True, autoincrement=True)
    org_id: Mapped[str] = mapped_column(String(32), nullable=False)
    timestamp: Mapped[datetime] = mapped_column(UtcDateTime(), nullable=False)
    provider: Mapped[str] = mapped_column(Text, nullable=False)
    model: Mapped[str] = mapped_column(Text, nullable=False)
    input_tokens: Mapped[int] = mapped_column(BigInteger, nullable=False)
    output_tokens: Mapped[int] = mapped_column(BigInteger, nullable=False)
    cached_input_tokens: Mapped[int] = mapped_column(BigInteger, nullable=False, default=0)
    cache_write_tokens: Mapped[int] = mapped_column(BigInteger, nullable=False, default=0)
    latency_ms: Mapped[float | None] = mapped_column(Float, nullable=True)
    status: Mapped[str] = mapped_column(String(16), nullable=False, default="ok")
    cost_usd: Mapped[float | None] = mapped_column(Float, nullable=True)
    feature: Mapped[str | None] = mapped_column(Text, nullable=True)
    end_user: Mapped[str | None] = mapped_column(Text, nullable=True)
    prompt_hash: Mapped[str | None] = mapped_column(Text, nullable=True)
    request_id: Mapped[str | None] = mapped_column(Text, nullable=True)
    retry_of: Mapped[str | None] = mapped_column(Text, nullable=True)
    batch: Mapped[bool] = mapped_column(Boolean, nullable=False, default=False)
    requests: Mapped[int] = mapped_column(
        BigInteger, nullable=False, default=1, server_default=text("1")
    )
    conversation_id: Mapped[str | None] = mapped_column(Text, nullable=True)
    cache_write_1h_tokens: Mapped[int] = mapped_column(
        BigInteger, nullable=False, default=0, server_default=text("0")
    )


class UsageVersion(Base):
    """A per-organisation counter bumped by every ingest that stored something: part of the
    analysis cache key, so a new record makes every cached report of the org unreachable."""

    __tablename__ = "usage_versions"

    org_id: Mapped[str] = mapped_column(String(32), primary_key=True)
    version: Mapped[int] = mapped_column(BigInteger, nullable=False, default=0)
    updated_at: Mapped[datetime] = mapped_column(UtcDateTime(), nullable=False, default=utcnow)
