"""Shared test configuration: each test folder gets its marker; settings built for tests."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import hypothesis
import pytest

from netra.core.settings import Settings

TEST_SECRETS_KEY = "bDcwYmwzb1ZqU3RfQ2d3cE9XeG5ndGlCMXNVbnRTZTc="  # a Fernet key for tests

ROOT = Path(__file__).resolve().parent

# Property tests explore new random cases on every developer run; in CI they replay a fixed
# sequence, so a landing does not depend on luck (failures found locally become @example).
hypothesis.settings.register_profile("ci", derandomize=True, print_blob=True)
if os.environ.get("CI"):
    hypothesis.settings.load_profile("ci")


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    for item in items:
        parts = Path(str(item.fspath)).resolve().relative_to(ROOT).parts
        if not parts or parts[0] not in ("unit", "integration", "e2e"):
            continue
        kind = parts[0]
        # A test of tests/unit that asks for a temporary folder (directly or through
        # make_settings / runtime) writes a SQLite file or runs an app in process: not "no I/O".
        if kind == "unit" and "tmp_path" in getattr(item, "fixturenames", ()):
            kind = "local"
        item.add_marker(getattr(pytest.mark, kind))


@pytest.fixture
def make_settings(tmp_path: Path):  # type: ignore[no-untyped-def]
    """Settings for a test: env ``test``, data in a temporary folder, overrides applied."""

    def make(**overrides: Any) -> Settings:
        values: dict[str, Any] = {
            "env": "test",
            "data_dir": tmp_path / "netra",
            "webhook_allow_loopback": True,  # test receivers listen on 127.0.0.1
            "secrets_key": TEST_SECRETS_KEY,  # what resolve_dev_secrets would generate
            "register_ip_max": 10_000,  # suites sign many users up from one address
        }
        values.update(overrides)
        return Settings(**values)

    return make


# A test stuck on an await shows nothing useful when pytest-timeout fires (the loop is idle in
# select). Shortly before that (at 70 % of the test's timeout), print every pending task's stack.
def _dump_pending_tasks(test_id: str, after_s: float) -> None:
    import asyncio
    import gc
    import sys

    # type() rather than isinstance(): gc also holds weak proxies, which raise on isinstance.
    tasks = [o for o in gc.get_objects() if type(o) is asyncio.Task and not o.done()]
    print(f"\n=== {test_id}: {len(tasks)} pending asyncio tasks after {after_s:.0f}s ===",
          file=sys.stderr)  # fmt: skip
    for task in tasks:
        print(f"--- {task.get_name()}", file=sys.stderr)
        task.print_stack(limit=12, file=sys.stderr)


@pytest.hookimpl(wrapper=True)
def pytest_runtest_call(item: pytest.Item):  # type: ignore[no-untyped-def]
    import threading

    limit = item.config.getoption("timeout", None) or item.config.getini("timeout") or 150
    after_s = 0.7 * float(limit)
    timer = threading.Timer(after_s, _dump_pending_tasks, args=(item.nodeid, after_s))
    timer.daemon = True
    timer.start()
    try:
        return (yield)
    finally:
        timer.cancel()
