"""Which database failures are the caller's data and which are an outage.

Bad data (a constraint, a value out of a column's range, text the database refuses) is the
client's to fix: a 4xx or an ``error`` frame. Only the database being away is a 503 or 1013
(``core.db.database_unavailable``).
"""

from __future__ import annotations

from sqlalchemy.exc import DataError, IntegrityError

# Data exceptions (22: out of range, invalid text, NUL) and integrity violations (23).
_DATA_STATES = ("22", "23")


def _chain(exc: BaseException) -> list[BaseException]:
    seen: list[BaseException] = []
    current: BaseException | None = exc
    while current is not None and current not in seen and len(seen) < 8:
        seen.append(current)
        nxt = getattr(current, "orig", None)
        current = nxt if isinstance(nxt, BaseException) else current.__cause__
    return seen


def _sqlstate(exc: BaseException | None) -> str:
    return str(getattr(exc, "sqlstate", None) or getattr(exc, "pgcode", None) or "")


def is_integrity_error(exc: BaseException) -> bool:
    return any(isinstance(e, IntegrityError) or _sqlstate(e).startswith("23") for e in _chain(exc))


def is_data_error(exc: BaseException) -> bool:
    """A value the database (or its driver) refused: out of range, NUL, a lone surrogate."""
    for e in _chain(exc):
        if isinstance(e, DataError | IntegrityError | UnicodeError | OverflowError):
            return True
        if _sqlstate(e).startswith(_DATA_STATES):
            return True
    return False
