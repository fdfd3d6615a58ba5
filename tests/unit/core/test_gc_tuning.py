"""Server processes freeze what they built and collect less often (core/gc_tuning.py)."""

from __future__ import annotations

import gc
from collections.abc import Iterator

import pytest

from netra.core.gc_tuning import tune_for_server

pytestmark = pytest.mark.unit


@pytest.fixture
def restored_gc() -> Iterator[None]:
    thresholds = gc.get_threshold()
    yield
    gc.unfreeze()  # the test process must collect as before
    gc.set_threshold(*thresholds)


def test_a_server_freezes_what_it_built_and_collects_less_often(restored_gc: None) -> None:
    built = {"app": [object() for _ in range(10)]}  # a tracked container, as an app's state
    young, middle, _ = gc.get_threshold()
    tune_for_server(123)
    assert gc.get_threshold() == (young, middle, 123)  # young collections at Python's pace
    assert gc.get_freeze_count() > 0 and gc.is_tracked(built)


def test_zero_keeps_pythons_defaults(restored_gc: None) -> None:
    before = gc.get_threshold()
    tune_for_server(0)
    assert gc.get_threshold() == before and gc.get_freeze_count() == 0
