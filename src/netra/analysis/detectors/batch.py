"""(rule written with the detector)"""

from __future__ import annotations

from netra.analysis.detectors.base import Context
from netra.analysis.findings import Candidate


def detect(ctx: Context) -> list[Candidate]:
    return []
