"""The analysis report as one self-contained HTML page with SVG charts (no script, no CDN)."""

from __future__ import annotations

from html import escape
from typing import Any

from netra.analysis.money_text import group_cost, money, total_cost

WIDTH = 720
# A bar: its label, its length (a cost) and the text printed beside it.
Bar = tuple[str, float, str]


def _bar(label: str, row: dict[str, Any]) -> Bar:
    return label, float(row.get("cost_usd") or 0.0), group_cost(row)


def _hbars(rows: list[Bar], colour: str) -> str:
    if not rows:
        return "<p>No data.</p>"
    top = max(v for _, v, _ in rows) or 1.0
    height = 22 * len(rows) + 4
    parts = [f'<svg width="{WIDTH}" height="{height}" role="img">']
    for i, (label, value, text) in enumerate(rows):
        y = 22 * i + 2
        width = max(1.0, (WIDTH - 330) * value / top)
        parts.append(
            f'<text x="0" y="{y + 14}" font-size="12">{escape(label[:40])}</text>'
            f'<rect x="250" y="{y}" width="{width:.1f}" height="16" fill="{colour}"/>'
            f'<text x="{255 + width:.1f}" y="{y + 13}" font-size="11">{escape(text)}</text>'
        )
    parts.append("</svg>")
    return "".join(parts)


def _columns(rows: list[Bar]) -> str:
    if not rows:
        return "<p>No data.</p>"
    top = max(v for _, v, _ in rows) or 1.0
    step = WIDTH / len(rows)
    parts = [f'<svg width="{WIDTH}" height="200" role="img">']
    for i, (label, value, text) in enumerate(rows):
        h = 160 * value / top
        parts.append(
            f'<rect x="{i * step + 1:.1f}" y="{170 - h:.1f}" width="{max(step - 2, 1):.1f}" '
            f'height="{h:.1f}" fill="#4f7cac">'
            f"<title>{escape(label)}: {escape(text)}</title></rect>"
        )
    parts.append(
        f'<text x="0" y="190" font-size="11">{escape(rows[0][0])}</text>'
        f'<text x="{WIDTH - 70}" y="190" font-size="11">{escape(rows[-1][0])}</text></svg>'
    )
    return "".join(parts)


def render_html(report: dict[str, Any]) -> str:
    b = report["breakdown"]
    days = [_bar(str(r["key"]), r) for r in b["by_day"]]
    models = [_bar(f"{r['key']} ({r.get('provider', '')})", r) for r in b["by_model"][:12]]
    features = [_bar(str(r["key"] or "(none)"), r) for r in b["by_feature"][:12]]
    savings = [
        (f"{f['kind']}: {f['title']}", f["savings_usd"], money(f["savings_usd"]))
        for f in report["findings"][:12]
    ]
    rows = "".join(
        "<tr>"
        f"<td>{escape(f['kind'])}</td>"
        f"<td>{escape(', '.join(f'{k}={v}' for k, v in f['scope'].items()))}</td>"
        f"<td>{f['affected_records']:,}</td><td>{money(f['current_cost_usd'])}</td>"
        f"<td>{money(f['savings_usd'])}</td><td>{escape(f['confidence'])}</td>"
        f"<td>{escape(f['detail'])}</td></tr>"
        for f in report["findings"]
    )
    unpriced = "".join(
        f"<li>{escape(u['provider'])}/{escape(u['model'])}: {u['records']:,} records</li>"
        for u in report["unpriced"]
    )
    period = report["period"]
    return f"""<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>Netra analysis</title>
<style>body{{font-family:system-ui,sans-serif;margin:2rem;max-width:1100px}}
table{{border-collapse:collapse}}td,th{{border-bottom:1px solid #ddd;padding:4px 8px;
text-align:left;vertical-align:top;font-size:13px}}.big{{font-size:1.4rem}}</style></head>
<body><h1>Netra analysis</h1>
<p>{escape(str(period["start"]))} .. {escape(str(period["end"]))}</p>
<p class="big">Total {total_cost(report, report["total_cost_usd"])}
over {report["records"]:,} records
({report["priced_records"]:,} priced); projected savings
<strong>{total_cost(report, report["projected_savings_usd"])}</strong>
({report["projected_savings_pct"]:.1f}%); monthly run-rate
{total_cost(report, report["forecast"]["monthly_run_rate_usd"])}.</p>
{f"<h2>Unpriced models</h2><ul>{unpriced}</ul>" if unpriced else ""}
<h2>Spend per day</h2>{_columns(days)}
<h2>Savings by finding</h2>{_hbars(savings, "#3c9a5f")}
<h2>Findings</h2><table><tr><th>kind</th><th>scope</th><th>records</th><th>current</th>
<th>savings</th><th>confidence</th><th>detail</th></tr>{rows}</table>
<h2>Cost by model</h2>{_hbars(models, "#4f7cac")}
<h2>Cost by feature</h2>{_hbars(features, "#b5835a")}
</body></html>"""
