"""wide integers: a run event's seq, a run's last_seq and the event id become BIGINT

A client may send any ``after_seq`` up to 2^63 - 1: a 32-bit column made the comparison fail
on PostgreSQL (500). SQLite's INTEGER is 64 bits already: nothing to do there.

Revision ID: 0009_wide_integers
Revises: 0008_api_keys
Create Date: 2026-12-01
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0009_wide_integers"
down_revision: str | None = "0008_api_keys"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

_COLUMNS = (("chat_run_events", "seq"), ("chat_run_events", "id"), ("chat_runs", "last_seq"))


def upgrade() -> None:
    if op.get_bind().dialect.name != "postgresql":
        return
    for table, column in _COLUMNS:
        op.alter_column(table, column, type_=sa.BigInteger(), existing_type=sa.Integer())


def downgrade() -> None:
    if op.get_bind().dialect.name != "postgresql":
        return
    for table, column in _COLUMNS:
        op.alter_column(table, column, type_=sa.Integer(), existing_type=sa.BigInteger())
