"""``netra analyze`` and ``netra demo-data`` (filled by the analysis issue)."""

from __future__ import annotations

import sys
from pathlib import Path


def analyze_command(files: list[Path], fmt: str, out: Path | None) -> int:
    print("netra analyze is not built yet", file=sys.stderr)
    return 1


def demo_data_command(records: int, seed: int, out: Path) -> int:
    print("netra demo-data is not built yet", file=sys.stderr)
    return 1
