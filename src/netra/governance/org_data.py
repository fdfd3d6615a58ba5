"""An organisation's rows in every table: found through the metadata, exported, deleted.

A table belongs to organisations through its ``org_id`` column, or (``organisations``) its id,
or through a foreign key to a table that does (refresh tokens through their family, run events
through their run, ...). A table none of these reach is listed in :data:`NOT_ORG_DATA` with
the reason, and a test checks that every table is one or the other: a new table cannot be
forgotten by the export or the deletion.
"""

from __future__ import annotations

import base64
import json
from collections.abc import AsyncIterator
from datetime import date, datetime
from decimal import Decimal
from typing import Any

from sqlalchemy import ColumnElement, Table, delete, select
from sqlalchemy.ext.asyncio import AsyncSession

from netra.core.db import Database, utcnow
from netra.models import Base

# Tables that hold no organisation's data, and why.
NOT_ORG_DATA = {
    # Keyed by token id, session id or user id with an expiry; deleting an organisation adds
    # entries for its former members (so their tokens die at once) that expire with the tokens.
    "token_revocations": "denylist of access tokens, no content, expires with the tokens",
}

# Credentials are never exported (hashes of passwords, tokens and keys, webhook secrets).
SECRET_MARKERS = ("hash", "secret")
# Columns those markers would catch that are the organisation's data, not credentials: a
# usage record's prompt_hash is the customer's own field (API.md "Usage record").
NOT_SECRET = frozenset({"prompt_hash"})

EXPORT_BATCH = 1000


def org_scope(table: Table, org_id: str) -> ColumnElement[bool] | None:
    """The condition selecting ``org_id``'s rows of ``table``; None when it holds none."""
    if table.name == "organisations":
        return table.c.id == org_id
    if "org_id" in table.c:
        return table.c.org_id == org_id
    for fk in sorted(table.foreign_keys, key=lambda f: f.parent.name):
        parent = fk.column.table
        if not isinstance(parent, Table) or parent is table:
            continue
        parent_scope = org_scope(parent, org_id)
        if parent_scope is not None:
            return fk.parent.in_(select(fk.column).where(parent_scope))
    return None


def scope_of(table: Table, org_id: str) -> ColumnElement[bool]:
    scope = org_scope(table, org_id)
    if scope is None:
        raise ValueError(f"table {table.name} holds no organisation data")
    return scope


def org_tables() -> list[Table]:
    """Every table that holds organisation data, parents before children."""
    return [t for t in Base.metadata.sorted_tables if org_scope(t, "x") is not None]


def unscoped_tables() -> list[str]:
    return [t.name for t in Base.metadata.sorted_tables if org_scope(t, "x") is None]


def _json_value(value: Any) -> Any:
    if isinstance(value, datetime | date):
        return value.isoformat()
    if isinstance(value, Decimal):
        return float(value)
    if isinstance(value, bytes):
        return base64.b64encode(value).decode()
    return value


def _exported_columns(table: Table) -> list[Any]:
    return [
        c
        for c in table.c
        if c.name in NOT_SECRET or not any(m in c.name.lower() for m in SECRET_MARKERS)
    ]


def _line(table: Table, columns: list[Any], row: Any) -> dict[str, Any]:
    values = {c.name: _json_value(v) for c, v in zip(columns, row, strict=True)}
    return {"table": table.name, "row": values}


async def export_lines(db: Database, org_id: str) -> AsyncIterator[bytes]:
    """JSON Lines: a header, then ``{"table", "row"}`` for every row of the organisation."""
    tables = org_tables()
    header = {
        "export": {
            "org_id": org_id,
            "created_at": utcnow().isoformat(),
            "tables": [t.name for t in tables],
            "format": 'one {"table", "row"} object per line; credentials left out',
        }
    }
    yield (json.dumps(header) + "\n").encode()
    async with db.sessions() as session:
        for table in tables:
            columns = _exported_columns(table)
            scope = scope_of(table, org_id)
            stmt = select(*columns).where(scope).execution_options(yield_per=EXPORT_BATCH)
            result = await session.stream(stmt)
            async for part in result.partitions(EXPORT_BATCH):
                chunk = [
                    json.dumps(
                        {
                            "table": table.name,
                            "row": {
                                c.name: _json_value(v) for c, v in zip(columns, row, strict=True)
                            },
                        },
                        default=str,
                    )
                    for row in part
                ]
                yield ("\n".join(chunk) + "\n").encode()


async def member_ids(session: AsyncSession, org_id: str) -> list[str]:
    users = Base.metadata.tables["users"]
    return list(
        (await session.execute(select(users.c.id).where(users.c.org_id == org_id))).scalars()
    )


async def delete_org_rows(session: AsyncSession, org_id: str) -> dict[str, int]:
    """Delete the organisation's rows from every table, children first; rows per table."""
    counts: dict[str, int] = {}
    for table in reversed(org_tables()):
        scope = scope_of(table, org_id)
        result = await session.execute(delete(table).where(scope))
        counts[table.name] = int(getattr(result, "rowcount", 0) or 0)
    return counts
