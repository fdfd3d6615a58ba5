"""run steps: the durable result of each pipeline step, and a run's execution attempts

Revision ID: 0010_run_steps
Revises: 0009_wide_integers
Create Date: 2026-12-01
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0010_run_steps"
down_revision: str | None = "0009_wide_integers"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("chat_runs") as batch:
        batch.add_column(
            sa.Column("attempts", sa.Integer(), nullable=False, server_default=sa.text("0"))
        )
    op.create_table(
        "chat_run_steps",
        sa.Column("run_id", sa.String(32), nullable=False),
        sa.Column("name", sa.String(64), nullable=False),
        sa.Column("seq", sa.Integer(), nullable=False),
        sa.Column("result", sa.JSON(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("run_id", "name", name="pk_chat_run_steps"),
        sa.ForeignKeyConstraint(
            ["run_id"],
            ["chat_runs.id"],
            name="fk_chat_run_steps_run_id_chat_runs",
            ondelete="CASCADE",
        ),
    )


def downgrade() -> None:
    op.drop_table("chat_run_steps")
    with op.batch_alter_table("chat_runs") as batch:
        batch.drop_column("attempts")
