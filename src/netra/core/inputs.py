"""Validation at the edge for what a client sends: text the database can store, numbers that
fit the columns and the arithmetic.

PostgreSQL refuses U+0000 in text and a lone UTF-16 surrogate cannot be encoded as UTF-8: such
a value must be refused where it enters (a 4xx naming the field), never reach a query (a 500).
Request models use :data:`Text`, path parameters :data:`PathId`, integers :data:`MAX_BIGINT`.
"""

from __future__ import annotations

import re
from typing import Annotated, Any

from fastapi import Path
from pydantic import AfterValidator

# The largest value of a BIGINT column (and of PostgreSQL's OFFSET/LIMIT): bounds every integer
# a client sends so that it never overflows a column or a query parameter.
MAX_BIGINT = 2**63 - 1

_SURROGATE = re.compile("[\ud800-\udfff]")
# Either of the two: text that cannot reach the database as it is.
UNSTORABLE = re.compile("[\x00\ud800-\udfff]")


def text_problem(value: str) -> str | None:
    """Why ``value`` cannot be stored as text, or None when it can."""
    if "\x00" in value:
        return "contains a NUL character (U+0000)"
    if _SURROGATE.search(value):
        return "contains an unpaired surrogate (not valid Unicode)"
    return None


def check_text(value: str) -> str:
    """A Pydantic after-validator: refuse text the database cannot store."""
    problem = text_problem(value)
    if problem is not None:
        raise ValueError(problem)
    return value


def find_bad_text(value: Any, path: str = "") -> tuple[str, str] | None:
    """The first string (key or value) in a JSON-like structure that cannot be stored:
    ``(its dotted path, the problem)``, or None."""
    if isinstance(value, str):
        problem = text_problem(value)
        return (path, problem) if problem else None
    if isinstance(value, dict):
        for key, item in value.items():
            where = f"{path}.{key}" if path else str(key)
            if isinstance(key, str) and (problem := text_problem(key)):
                return where, f"key {problem}"
            found = find_bad_text(item, where)
            if found:
                return found
    elif isinstance(value, list | tuple):
        for i, item in enumerate(value):
            found = find_bad_text(item, f"{path}.{i}" if path else str(i))
            if found:
                return found
    return None


Text = Annotated[str, AfterValidator(check_text)]

# Every id Netra hands out is 32 hex characters; a path id of another shape is refused (422
# naming the parameter) before it reaches a query.
ID_PATTERN = r"^[A-Za-z0-9_-]{1,64}$"
PathId = Annotated[str, Path(min_length=1, max_length=64, pattern=ID_PATTERN)]
