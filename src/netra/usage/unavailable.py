"""The database being unreachable is a 503 with a clear message, never a 500."""

from __future__ import annotations

from collections.abc import AsyncIterator

from sqlalchemy.exc import DBAPIError, InterfaceError, OperationalError
from sqlalchemy.exc import TimeoutError as PoolTimeout

from netra.core.db import is_transient
from netra.core.errors import DependencyUnavailable

# SQLSTATE classes that mean "the server is not there for us", not "your statement is wrong":
# connection exceptions, insufficient resources, operator intervention, unknown database.
_UNAVAILABLE_STATES = ("08", "53", "57", "3D")


def database_unavailable(exc: BaseException) -> bool:
    if isinstance(exc, OSError | PoolTimeout | InterfaceError | OperationalError):
        return True
    if isinstance(exc, DBAPIError):
        if exc.connection_invalidated or is_transient(exc):
            return True
        orig = exc.orig
        state = str(getattr(orig, "sqlstate", None) or getattr(orig, "pgcode", None) or "")
        return state.startswith(_UNAVAILABLE_STATES) or isinstance(
            getattr(orig, "__cause__", None), OSError
        )
    return False


async def database_errors_as_503() -> AsyncIterator[None]:
    """A router dependency: what the endpoint raises passes through here."""
    try:
        yield
    except Exception as exc:
        if database_unavailable(exc):
            raise DependencyUnavailable("the database is unavailable; try again shortly") from exc
        raise
