"""usage fields: requests (calls a row adds up), conversation_id, cache_write_1h_tokens

Revision ID: 0007_usage_fields
Revises: 0006_revocations
Create Date: 2026-12-01
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0007_usage_fields"
down_revision: str | None = "0006_revocations"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    # Server defaults fill the rows already stored: each was one call without one-hour writes.
    with op.batch_alter_table("usage_records") as batch:
        batch.add_column(
            sa.Column("requests", sa.BigInteger(), nullable=False, server_default=sa.text("1"))
        )
        batch.add_column(sa.Column("conversation_id", sa.Text(), nullable=True))
        batch.add_column(
            sa.Column(
                "cache_write_1h_tokens",
                sa.BigInteger(),
                nullable=False,
                server_default=sa.text("0"),
            )
        )


def downgrade() -> None:
    with op.batch_alter_table("usage_records") as batch:
        batch.drop_column("cache_write_1h_tokens")
        batch.drop_column("conversation_id")
        batch.drop_column("requests")
