"""Dollar figures as the answers print them (``$1,234.56``), and finding them again in text."""

from __future__ import annotations

import re

DOLLARS = re.compile(r"-?\$\d{1,3}(?:,\d{3})*\.\d{2}\b")


def usd(amount: float) -> str:
    """``1234.5`` -> ``$1,234.50``; negatives as ``-$3.00``."""
    value = round(float(amount) + 0.0, 2)
    if value < 0:
        return f"-${-value:,.2f}"
    return f"${value:,.2f}"


def pct(value: float) -> str:
    """A percentage the engine computed, printed as computed (at most two decimals)."""
    return f"{round(float(value), 2):g}%"


def dollar_figures(text: str) -> list[str]:
    """Every ``$1,234.56``-style figure in ``text``, in order."""
    return DOLLARS.findall(text)
