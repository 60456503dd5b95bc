"""Console table and a self-contained HTML report.

The HTML report is one file that opens offline: the charts are drawn by uPlot (the panel's
chart library, vendored from npm under ``edge_mining/web/static/vendor``), inlined with the
data (``report_data.py``) and the page's script. It leads with what a user decides on: the
assumptions, then net gain versus exporting per policy; then monthly energy flows, a typical
summer and winter day and the cumulative net gain.
"""

from __future__ import annotations

import html
import json
from collections.abc import Mapping, Sequence
from importlib import resources
from pathlib import Path
from typing import Any

from edge_mining.analysis.engine import Trace
from edge_mining.analysis.kpis import Prices
from edge_mining.analysis.report_data import report_data

# (key, label, format) in display order.
TABLE_ROWS: tuple[tuple[str, str, str], ...] = (
    ("mined_kwh", "mined energy, kWh", "{:,.0f}"),
    ("surplus_captured_pct", "surplus captured, %", "{:.1f}"),
    ("uptime_pct", "uptime (time running), %", "{:.1f}"),
    ("effective_uptime_pct", "uptime (energy / max), %", "{:.1f}"),
    ("sats_mined", "mined, sats", "{:,.0f}"),
    ("mining_revenue", "mining revenue", "{:,.2f}"),
    ("share_of_oracle_revenue_pct", "  of oracle revenue, %", "{:.1f}"),
    ("export_value_of_mined_energy", "export value of that energy", "{:,.2f}"),
    ("extra_import_cost", "extra import cost", "{:,.2f}"),
    ("gain_vs_export", "gain vs no mining", "{:,.2f}"),
    ("share_of_oracle_gain_pct", "  of oracle gain, %", "{:.1f}"),
    ("mined_from_pv_kwh", "mined from PV, kWh", "{:,.0f}"),
    ("battery_kwh_for_mining", "battery used for mining, kWh", "{:,.0f}"),
    ("grid_import_for_mining_kwh", "grid import while mining, kWh", "{:,.0f}"),
    ("extra_import_kwh", "extra import vs no mining, kWh", "{:,.0f}"),
    ("reserve_violations", "reserve violations (steps)", "{:d}"),
    ("unserved_by_mining_kwh", "unserved load caused by mining, kWh", "{:.1f}"),
    ("starts_per_day_per_miner", "starts / day / miner", "{:.2f}"),
    ("max_starts_per_day", "max starts in a day", "{:d}"),
    ("heat_kwh", "heat delivered, kWh", "{:,.0f}"),
    ("export_kwh", "exported, kWh", "{:,.0f}"),
    ("import_kwh", "imported, kWh", "{:,.0f}"),
    ("curtailed_kwh", "curtailed, kWh", "{:,.0f}"),
    ("elapsed_s", "compute time, s", "{:.1f}"),
)

COLOURS = {
    "edge": "#1b7f3b",
    "seed": "#c4661f",
    "threshold": "#3b5bdb",
    "export": "#868e96",
    "oracle": "#7b2cbf",
}


def _cell(value: Any, fmt: str) -> str:
    if value is None:
        return "-"
    try:
        return fmt.format(value)
    except (ValueError, TypeError):
        return str(value)


def console_table(kpis: Mapping[str, Mapping[str, Any]]) -> str:
    names = list(kpis)
    width = max(len(label) for _, label, _ in TABLE_ROWS) + 2
    col = max(11, *(len(n) + 2 for n in names))
    lines = ["".ljust(width) + "".join(n.rjust(col) for n in names)]
    for key, label, fmt in TABLE_ROWS:
        if not any(key in kpis[n] for n in names):
            continue
        cells = "".join(_cell(kpis[n].get(key), fmt).rjust(col) for n in names)
        lines.append(label.ljust(width) + cells)
    return "\n".join(lines)


# ----------------------------------------------------------------------------------- html

STATIC = resources.files("edge_mining.web") / "static"


def _inline_json(data: object) -> str:
    """JSON safe inside a <script> element (no "</" can close it early)."""
    return json.dumps(data, separators=(",", ":")).replace("</", "<\\/")


def write_html_report(
    directory: Path,
    traces: Mapping[str, Trace],
    kpis: Mapping[str, Mapping[str, Any]],
    prices: Prices,
    title: str,
    setup_lines: Sequence[str],
    baseline: Trace | None = None,
) -> Path:
    """Write ``index.html`` (one file: uPlot, the data and the page inline; opens offline) and
    ``kpis.csv`` into ``directory``; return the HTML path."""
    directory.mkdir(parents=True, exist_ok=True)
    base = baseline if baseline is not None else traces.get("export")
    if base is None:
        raise ValueError("the report needs the export baseline's trace")
    data = report_data(traces, kpis, prices, base, COLOURS)
    data["title"] = title
    data["assumptions"] = list(setup_lines)
    data["table"] = console_table(kpis)
    vendor = STATIC / "vendor"
    page = (
        "<!doctype html>\n<html lang='en'><head><meta charset='utf-8'>"
        "<meta name='viewport' content='width=device-width, initial-scale=1'>"
        f"<title>{html.escape(title)}</title>"
        f"<style>{(vendor / 'uPlot.min.css').read_text(encoding='utf-8')}</style>"
        f"<style>{(STATIC / 'report.css').read_text(encoding='utf-8')}</style>"
        "</head><body><main id='report'>"
        f"<h1>{html.escape(title)}</h1>"
        "<noscript>This report draws its charts with JavaScript.</noscript>"
        "</main>"
        f"<script type='application/json' id='report-data'>{_inline_json(data)}</script>"
        f"<script>{(vendor / 'uPlot.iife.min.js').read_text(encoding='utf-8')}</script>"
        f"<script>{(STATIC / 'report.js').read_text(encoding='utf-8')}</script>"
        "</body></html>\n"
    )
    path = directory / "index.html"
    path.write_text(page, encoding="utf-8")
    keys = sorted({k for row in kpis.values() for k in row})
    lines = [",".join(keys)]
    for row in kpis.values():
        lines.append(",".join(str(row.get(k, "")) for k in keys))
    (directory / "kpis.csv").write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path
