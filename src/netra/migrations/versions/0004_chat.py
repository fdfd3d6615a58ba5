"""chat: threads, messages, runs, run events, processed client frame ids

Revision ID: 0004_chat
Revises: 0003_usage
Create Date: 2026-11-25
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0004_chat"
down_revision: str | None = "0003_usage"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def _ts(name: str, nullable: bool = False) -> sa.Column:
    return sa.Column(name, sa.DateTime(timezone=True), nullable=nullable)


def upgrade() -> None:
    op.create_table(
        "chat_threads",
        sa.Column("id", sa.String(32), nullable=False),
        _ts("created_at"),
        sa.Column("org_id", sa.String(32), nullable=False),
        sa.Column("user_id", sa.String(32), nullable=False),
        sa.Column("title", sa.String(200), nullable=False),
        _ts("updated_at"),
        sa.PrimaryKeyConstraint("id", name="pk_chat_threads"),
    )
    op.create_index("ix_chat_threads_org_user", "chat_threads", ["org_id", "user_id", "updated_at"])
    op.create_table(
        "chat_messages",
        sa.Column("id", sa.String(32), nullable=False),
        _ts("created_at"),
        sa.Column("org_id", sa.String(32), nullable=False),
        sa.Column("thread_id", sa.String(32), nullable=False),
        sa.Column("user_id", sa.String(32), nullable=False),
        sa.Column("role", sa.String(16), nullable=False),
        sa.Column("text", sa.Text(), nullable=False),
        sa.Column("run_id", sa.String(32), nullable=True),
        sa.Column("meta", sa.JSON(), nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_chat_messages"),
        sa.ForeignKeyConstraint(
            ["thread_id"],
            ["chat_threads.id"],
            name="fk_chat_messages_thread_id_chat_threads",
            ondelete="CASCADE",
        ),
    )
    op.create_index("ix_chat_messages_thread", "chat_messages", ["thread_id", "created_at"])
    op.create_table(
        "chat_runs",
        sa.Column("id", sa.String(32), nullable=False),
        _ts("created_at"),
        sa.Column("org_id", sa.String(32), nullable=False),
        sa.Column("user_id", sa.String(32), nullable=False),
        sa.Column("tier", sa.String(16), nullable=False),
        sa.Column("role", sa.String(16), nullable=False),
        sa.Column("thread_id", sa.String(32), nullable=False),
        sa.Column("message_id", sa.String(32), nullable=False),
        sa.Column("request_id", sa.String(64), nullable=False),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("last_seq", sa.Integer(), nullable=False),
        sa.Column("worker_id", sa.String(128), nullable=True),
        _ts("heartbeat_at", nullable=True),
        sa.Column("cancel_requested", sa.Boolean(), nullable=False),
        _ts("started_at", nullable=True),
        _ts("finished_at", nullable=True),
        sa.Column("error", sa.JSON(), nullable=True),
        sa.PrimaryKeyConstraint("id", name="pk_chat_runs"),
        sa.ForeignKeyConstraint(
            ["thread_id"],
            ["chat_threads.id"],
            name="fk_chat_runs_thread_id_chat_threads",
            ondelete="CASCADE",
        ),
    )
    op.create_index("ix_chat_runs_user_status", "chat_runs", ["user_id", "status"])
    op.create_index("ix_chat_runs_status_heartbeat", "chat_runs", ["status", "heartbeat_at"])
    op.create_table(
        "chat_run_events",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("run_id", sa.String(32), nullable=False),
        sa.Column("seq", sa.Integer(), nullable=False),
        sa.Column("type", sa.String(32), nullable=False),
        sa.Column("payload", sa.JSON(), nullable=False),
        _ts("ts"),
        sa.PrimaryKeyConstraint("id", name="pk_chat_run_events"),
        sa.ForeignKeyConstraint(
            ["run_id"],
            ["chat_runs.id"],
            name="fk_chat_run_events_run_id_chat_runs",
            ondelete="CASCADE",
        ),
        sa.UniqueConstraint("run_id", "seq", name="uq_chat_run_events_run_seq"),
    )
    op.create_table(
        "chat_processed_frames",
        sa.Column("user_id", sa.String(32), nullable=False),
        sa.Column("frame_id", sa.String(128), nullable=False),
        _ts("created_at"),
        sa.Column("org_id", sa.String(32), nullable=False),
        sa.Column("thread_id", sa.String(32), nullable=False),
        sa.Column("run_id", sa.String(32), nullable=False),
        sa.Column("message_id", sa.String(32), nullable=False),
        sa.PrimaryKeyConstraint("user_id", "frame_id", name="pk_chat_processed_frames"),
    )


def downgrade() -> None:
    op.drop_table("chat_processed_frames")
    op.drop_table("chat_run_events")
    op.drop_index("ix_chat_runs_status_heartbeat", table_name="chat_runs")
    op.drop_index("ix_chat_runs_user_status", table_name="chat_runs")
    op.drop_table("chat_runs")
    op.drop_index("ix_chat_messages_thread", table_name="chat_messages")
    op.drop_table("chat_messages")
    op.drop_index("ix_chat_threads_org_user", table_name="chat_threads")
    op.drop_table("chat_threads")
