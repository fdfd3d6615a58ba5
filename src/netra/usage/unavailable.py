"""The database being unreachable is a 503 with a clear message, never a 500."""

from __future__ import annotations

from collections.abc import AsyncIterator

from netra.core.db_errors import database_unavailable
from netra.core.errors import DependencyUnavailable

__all__ = ["database_errors_as_503", "database_unavailable"]


async def database_errors_as_503() -> AsyncIterator[None]:
    """A router dependency: what the endpoint raises passes through here."""
    try:
        yield
    except Exception as exc:
        if database_unavailable(exc):
            raise DependencyUnavailable("the database is unavailable; try again shortly") from exc
        raise
