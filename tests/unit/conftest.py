"""Unit tests: one shared ``runtime`` fixture (SQLite file, memory cache/bus/queue).

A module whose runtime needs other settings overrides ``runtime_settings``.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from typing import Any

import pytest

from netra.core.runtime import Runtime
from support.runtime import started_runtime


@pytest.fixture
def runtime_settings() -> dict[str, Any]:
    """Settings overrides of the ``runtime`` fixture (none by default)."""
    return {}


@pytest.fixture
async def runtime(
    make_settings: Callable[..., Any], runtime_settings: dict[str, Any]
) -> AsyncIterator[Runtime]:
    async with started_runtime(make_settings(**runtime_settings)) as rt:
        yield rt
