"""Costs as printed in the CLI table and the HTML report. Usage no price is known for reads
"unpriced", never "$0.00": a zero would tell the reader it was free."""

from __future__ import annotations

from typing import Any

UNPRICED = "unpriced"


def money(value: float | None) -> str:
    if value is None:
        return UNPRICED
    return f"${value:,.2f}" if abs(value) >= 0.01 or value == 0 else f"${value:,.6f}"


def group_cost(row: dict[str, Any]) -> str:
    """A breakdown row's cost: "unpriced" when none of its records has a price, the priced
    part and the count of the others when some have none."""
    records = int(row.get("records") or 0)
    unpriced = int(row.get("unpriced_records") or 0)
    cost = row.get("cost_usd")
    if cost is None or (records and unpriced >= records):
        return UNPRICED
    if unpriced:
        return f"{money(cost)} + {unpriced:,} {UNPRICED}"
    return money(cost)


def total_cost(report: dict[str, Any], value: float | None) -> str:
    """A report-wide amount: "unpriced" when the report has records but none is priced."""
    if report.get("records") and not report.get("priced_records"):
        return UNPRICED
    return money(value)
