"""usage: tables of the usage domain (filled by the issue that builds it)

Revision ID: 0003_usage
Revises: 0002_auth
Create Date: 2026-11-25
"""

from collections.abc import Sequence

revision: str = "0003_usage"
down_revision: str | None = "0002_auth"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    pass


def downgrade() -> None:
    pass
