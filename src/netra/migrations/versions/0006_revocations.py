"""revocations: the durable access-token denylist (jti, sign-in session, user cutoff)

Revision ID: 0006_revocations
Revises: 0005_billing
Create Date: 2026-11-25
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0006_revocations"
down_revision: str | None = "0005_billing"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "token_revocations",
        sa.Column("id", sa.String(32), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("kind", sa.String(8), nullable=False),
        sa.Column("key", sa.String(64), nullable=False),
        sa.Column("cutoff", sa.BigInteger(), nullable=False),
        sa.Column("expires_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_token_revocations"),
    )
    op.create_index("ix_token_revocations_kind_key", "token_revocations", ["kind", "key"])


def downgrade() -> None:
    op.drop_index("ix_token_revocations_kind_key", table_name="token_revocations")
    op.drop_table("token_revocations")
