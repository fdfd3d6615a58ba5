"""``netra demo-data``: write a synthetic workload with labelled waste."""

from __future__ import annotations

import sys
from pathlib import Path


def _err(message: str) -> None:
    print(message, file=sys.stderr)


def demo_data_command(records: int, seed: int, out: Path) -> int:
    from netra.demo.workload import generate, write

    if records < 1:
        _err("error: --records must be at least 1")
        return 2
    if out.parent and not out.parent.exists():
        _err(f"error: {out.parent}: no such directory")
        return 2
    try:
        frame, labels = generate(records, seed)
        labels_path = write(frame, labels, out)
    except OSError as exc:
        _err(f"error: {out}: cannot write: {exc.strerror or exc}")
        return 1
    print(f"wrote {frame.height} records to {out} and their waste labels to {labels_path}")
    return 0
