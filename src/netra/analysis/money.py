"""Rounding rules of every report: USD to 6 decimals (micro-dollars: a single call can cost
less than a cent), percentages to 2 decimals, counts as ints."""

from __future__ import annotations

import math


def usd(value: float | None) -> float:
    if value is None or not math.isfinite(value):
        return 0.0
    return round(float(value), 6) + 0.0  # + 0.0 turns -0.0 into 0.0


def pct(value: float | None) -> float:
    if value is None or not math.isfinite(value):
        return 0.0
    return round(float(value), 2) + 0.0
