"""Shared test configuration: each test folder gets its marker; settings built for tests."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from netra.core.settings import Settings

ROOT = Path(__file__).resolve().parent


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    for item in items:
        parts = Path(str(item.fspath)).resolve().relative_to(ROOT).parts
        if parts and parts[0] in ("unit", "integration", "e2e"):
            item.add_marker(getattr(pytest.mark, parts[0]))


@pytest.fixture
def make_settings(tmp_path: Path):  # type: ignore[no-untyped-def]
    """Settings for a test: env ``test``, data in a temporary folder, overrides applied."""

    def make(**overrides: Any) -> Settings:
        values: dict[str, Any] = {"env": "test", "data_dir": tmp_path / "netra"}
        values.update(overrides)
        return Settings(**values)

    return make
