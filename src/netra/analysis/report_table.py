"""The analysis report as Rich tables (``netra analyze`` on a terminal)."""

from __future__ import annotations

from typing import Any

from rich.console import Console
from rich.table import Table

from netra.analysis.money_text import group_cost, total_cost
from netra.analysis.money_text import money as _money

TOP = 10


def _breakdown(title: str, rows: list[dict[str, Any]]) -> Table:
    table = Table(title=title, title_justify="left")
    table.add_column("key")
    table.add_column("records", justify="right")
    table.add_column("cost", justify="right")
    table.add_column("share", justify="right")
    for row in rows[:TOP]:
        key = row["key"] if row["key"] is not None else "(none)"
        if row.get("provider"):
            key = f"{key} ({row['provider']})"
        table.add_row(str(key), f"{row['records']:,}", group_cost(row), f"{row['share_pct']:.1f}%")
    if len(rows) > TOP:
        table.add_row(f"... {len(rows) - TOP} more", "", "", "")
    return table


def render_table(report: dict[str, Any], console: Console) -> None:
    period = report["period"]
    console.print(f"[bold]Netra analysis[/bold]  {period['start']} .. {period['end']}")
    console.print(
        f"records {report['records']:,}  priced {report['priced_records']:,}  "
        f"total [bold]{total_cost(report, report['total_cost_usd'])}[/bold]  "
        f"monthly run-rate {total_cost(report, report['forecast']['monthly_run_rate_usd'])}"
    )
    console.print(
        f"projected savings [bold green]{total_cost(report, report['projected_savings_usd'])}"
        "[/bold green] "
        f"({report['projected_savings_pct']:.1f}%)"
    )
    for item in report["unpriced"]:
        console.print(
            f"[yellow]unpriced[/yellow]: {item['provider']}/{item['model']} "
            f"({item['records']:,} records, not in the price catalogue)"
        )
    findings = Table(title="Findings", title_justify="left")
    findings.add_column("#", justify="right")
    findings.add_column("kind")
    findings.add_column("scope")
    findings.add_column("records", justify="right")
    findings.add_column("current", justify="right")
    findings.add_column("savings", justify="right")
    findings.add_column("confidence")
    for i, f in enumerate(report["findings"], start=1):
        findings.add_row(
            str(i),
            f["kind"],
            " / ".join(str(v) for v in f["scope"].values()),
            f"{f['affected_records']:,}",
            _money(f["current_cost_usd"]),
            _money(f["savings_usd"]),
            f["confidence"],
        )
    console.print(findings)
    for i, f in enumerate(report["findings"], start=1):
        console.print(f"{i}. [bold]{f['title']}[/bold]: {f['detail']}")
    console.print(_breakdown("Cost by model", report["breakdown"]["by_model"]))
    console.print(_breakdown("Cost by feature", report["breakdown"]["by_feature"]))
    console.print(_breakdown("Cost by provider", report["breakdown"]["by_provider"]))
