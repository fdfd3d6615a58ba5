"""billing: tables of the billing domain (filled by the issue that builds it)

Revision ID: 0005_billing
Revises: 0004_chat
Create Date: 2026-11-25
"""

from collections.abc import Sequence

revision: str = "0005_billing"
down_revision: str | None = "0004_chat"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    pass


def downgrade() -> None:
    pass
