"""Chat tables: threads, messages, runs, run events, and processed client frame ids.

Users and organisations live in the auth service's tables (possibly another database), so these
tables carry their ids without foreign keys to them; every row has its ``org_id`` for scoping.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import (
    JSON,
    BigInteger,
    Boolean,
    ForeignKey,
    Index,
    Integer,
    String,
    Text,
    UniqueConstraint,
)
from sqlalchemy.orm import Mapped, mapped_column

from netra.core.db import Base, CreatedMixin, IdMixin, UtcDateTime, utcnow

_ROW_ID = BigInteger().with_variant(Integer(), "sqlite")

RUN_ACTIVE = ("queued", "running")
RUN_FINAL = ("succeeded", "failed", "cancelled")


class Thread(IdMixin, CreatedMixin, Base):
    __tablename__ = "chat_threads"
    __table_args__ = (Index("ix_chat_threads_org_user", "org_id", "user_id", "updated_at"),)

    org_id: Mapped[str] = mapped_column(String(32), nullable=False)
    user_id: Mapped[str] = mapped_column(String(32), nullable=False)
    title: Mapped[str] = mapped_column(String(200), nullable=False, default="New thread")
    updated_at: Mapped[datetime] = mapped_column(UtcDateTime(), default=utcnow, nullable=False)


class Message(IdMixin, CreatedMixin, Base):
    __tablename__ = "chat_messages"
    __table_args__ = (Index("ix_chat_messages_thread", "thread_id", "created_at"),)

    org_id: Mapped[str] = mapped_column(String(32), nullable=False)
    thread_id: Mapped[str] = mapped_column(
        String(32), ForeignKey("chat_threads.id", ondelete="CASCADE"), nullable=False
    )
    user_id: Mapped[str] = mapped_column(String(32), nullable=False)
    role: Mapped[str] = mapped_column(String(16), nullable=False)  # user | assistant
    text: Mapped[str] = mapped_column(Text, nullable=False)
    run_id: Mapped[str | None] = mapped_column(String(32), nullable=True)
    meta: Mapped[dict[str, Any]] = mapped_column(JSON, nullable=False, default=dict)


class Run(IdMixin, CreatedMixin, Base):
    __tablename__ = "chat_runs"
    __table_args__ = (
        Index("ix_chat_runs_user_status", "user_id", "status"),
        Index("ix_chat_runs_status_heartbeat", "status", "heartbeat_at"),
    )

    org_id: Mapped[str] = mapped_column(String(32), nullable=False)
    user_id: Mapped[str] = mapped_column(String(32), nullable=False)
    tier: Mapped[str] = mapped_column(String(16), nullable=False)
    role: Mapped[str] = mapped_column(String(16), nullable=False)
    thread_id: Mapped[str] = mapped_column(
        String(32), ForeignKey("chat_threads.id", ondelete="CASCADE"), nullable=False
    )
    message_id: Mapped[str] = mapped_column(String(32), nullable=False)
    request_id: Mapped[str] = mapped_column(String(64), nullable=False)
    status: Mapped[str] = mapped_column(String(16), nullable=False, default="queued")
    # The seq of the run's last stored event: the next event takes last_seq + 1 in the same
    # transaction that stores it (the row update serialises concurrent writers).
    last_seq: Mapped[int] = mapped_column(BigInteger, nullable=False, default=0)
    worker_id: Mapped[str | None] = mapped_column(String(128), nullable=True)
    heartbeat_at: Mapped[datetime | None] = mapped_column(UtcDateTime(), nullable=True)
    cancel_requested: Mapped[bool] = mapped_column(Boolean, nullable=False, default=False)
    # Executions started: 1 when first claimed, +1 each time another worker takes it over.
    attempts: Mapped[int] = mapped_column(Integer, nullable=False, default=0)
    started_at: Mapped[datetime | None] = mapped_column(UtcDateTime(), nullable=True)
    finished_at: Mapped[datetime | None] = mapped_column(UtcDateTime(), nullable=True)
    error: Mapped[dict[str, Any] | None] = mapped_column(JSON, nullable=True)


class RunEvent(Base):
    __tablename__ = "chat_run_events"
    __table_args__ = (UniqueConstraint("run_id", "seq", name="uq_chat_run_events_run_seq"),)

    # BIGINT on PostgreSQL (0009_wide_integers), INTEGER PRIMARY KEY (rowid) on SQLite.
    id: Mapped[int] = mapped_column(_ROW_ID, primary_key=True, autoincrement=True)
    run_id: Mapped[str] = mapped_column(
        String(32), ForeignKey("chat_runs.id", ondelete="CASCADE"), nullable=False
    )
    seq: Mapped[int] = mapped_column(BigInteger, nullable=False)
    type: Mapped[str] = mapped_column(String(32), nullable=False)
    payload: Mapped[dict[str, Any]] = mapped_column(JSON, nullable=False)
    ts: Mapped[datetime] = mapped_column(UtcDateTime(), default=utcnow, nullable=False)


class RunStep(Base):
    """A pipeline step a run has completed: its result, and the run's ``last_seq`` after its
    events. A worker taking the run over restores the step instead of executing it again."""

    __tablename__ = "chat_run_steps"

    run_id: Mapped[str] = mapped_column(
        String(32), ForeignKey("chat_runs.id", ondelete="CASCADE"), primary_key=True
    )
    name: Mapped[str] = mapped_column(String(64), primary_key=True)
    seq: Mapped[int] = mapped_column(Integer, nullable=False)
    result: Mapped[dict[str, Any]] = mapped_column(JSON, nullable=False)
    created_at: Mapped[datetime] = mapped_column(UtcDateTime(), default=utcnow, nullable=False)


class ProcessedFrame(CreatedMixin, Base):
    """A client ``user_message`` id already handled: its ack is answered again for 24 h."""

    __tablename__ = "chat_processed_frames"

    user_id: Mapped[str] = mapped_column(String(32), primary_key=True)
    frame_id: Mapped[str] = mapped_column(String(128), primary_key=True)
    org_id: Mapped[str] = mapped_column(String(32), nullable=False)
    thread_id: Mapped[str] = mapped_column(String(32), nullable=False)
    run_id: Mapped[str] = mapped_column(String(32), nullable=False)
    message_id: Mapped[str] = mapped_column(String(32), nullable=False)
