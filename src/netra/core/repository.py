"""Tenant-scoped data access: a repository cannot be built without an organisation.

Every query of tenant data goes through :meth:`OrgRepository.select` (or filters by
``self.org_id`` itself), so a call without an org scope cannot be written by accident.
"""

from __future__ import annotations

from typing import Any, Generic, TypeVar

from sqlalchemy import Select, select
from sqlalchemy.ext.asyncio import AsyncSession

M = TypeVar("M")


class OrgRepository(Generic[M]):
    model: type[M]

    def __init__(self, session: AsyncSession, org_id: str) -> None:
        if not org_id or not isinstance(org_id, str):
            raise ValueError("a tenant repository needs an org_id")
        self.session = session
        self.org_id = org_id

    def select(self, *columns: Any) -> Select[Any]:
        """A SELECT of this model already filtered to the caller's organisation."""
        stmt = select(*columns) if columns else select(self.model)
        return stmt.where(self.model.org_id == self.org_id)  # type: ignore[attr-defined]

    async def get(self, id_: str) -> M | None:
        result = await self.session.execute(self.select().where(self.model.id == id_))  # type: ignore[attr-defined]
        return result.scalar_one_or_none()

    def add(self, obj: M) -> M:
        if getattr(obj, "org_id", None) not in (None, self.org_id):
            raise PermissionError("object belongs to another organisation")
        obj.org_id = self.org_id  # type: ignore[attr-defined]
        self.session.add(obj)
        return obj
