"""chat: tables of the chat domain (filled by the issue that builds it)

Revision ID: 0004_chat
Revises: 0003_usage
Create Date: 2026-11-25
"""

from collections.abc import Sequence

revision: str = "0004_chat"
down_revision: str | None = "0003_usage"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    pass


def downgrade() -> None:
    pass
