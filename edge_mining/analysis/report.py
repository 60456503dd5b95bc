"""Console table and a self-contained HTML report (inline SVG, no plotting dependency).

The HTML report shows, per policy: daily energy flows (mined, exported, imported), the daily
SoC range, the miners' daily mean power, and cumulative BTC and revenue over the period.
"""

from __future__ import annotations

import html
import math
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np

from edge_mining.analysis.engine import Trace
from edge_mining.analysis.kpis import Prices

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


# ------------------------------------------------------------------------------------ svg


def _daily(values: np.ndarray, per_day: int, how: str = "sum") -> np.ndarray:
    days = math.ceil(len(values) / per_day)
    padded = np.full(days * per_day, np.nan)
    padded[: len(values)] = values
    grid = padded.reshape(days, per_day)
    if how == "sum":
        return np.nansum(grid, axis=1)
    if how == "min":
        return np.nanmin(grid, axis=1)
    if how == "max":
        return np.nanmax(grid, axis=1)
    return np.nanmean(grid, axis=1)


def svg_lines(
    title: str,
    series: Sequence[tuple[str, np.ndarray, str]],
    y_label: str,
    width: int = 860,
    height: int = 240,
) -> str:
    """A line chart of equally spaced series (x = index), as an SVG string."""
    left, right, top, bottom = 60, 10, 28, 30
    plot_w, plot_h = width - left - right, height - top - bottom
    finite = [v[np.isfinite(v)] for _, v, _ in series if len(v)]
    y_max = max((float(f.max()) for f in finite if len(f)), default=1.0) or 1.0
    y_min = min((float(f.min()) for f in finite if len(f)), default=0.0)
    y_min = min(0.0, y_min)
    n = max((len(v) for _, v, _ in series), default=1)
    parts = [
        f'<svg xmlns="http://www.w3.org/2000/svg" width="{width}" height="{height}" '
        f'font-family="sans-serif" font-size="11">',
        f'<text x="{left}" y="16" font-size="13" font-weight="bold">{html.escape(title)}</text>',
        f'<rect x="{left}" y="{top}" width="{plot_w}" height="{plot_h}" fill="none" '
        'stroke="#ccc"/>',
    ]
    for i in range(5):
        value = y_min + (y_max - y_min) * i / 4
        y = top + plot_h - plot_h * i / 4
        parts.append(
            f'<text x="{left - 4}" y="{y + 4:.1f}" text-anchor="end">{value:,.3g}</text>'
            f'<line x1="{left}" x2="{left + plot_w}" y1="{y:.1f}" y2="{y:.1f}" stroke="#eee"/>'
        )
    parts.append(
        f'<text x="12" y="{top + plot_h / 2}" transform="rotate(-90 12 {top + plot_h / 2})" '
        f'text-anchor="middle">{html.escape(y_label)}</text>'
    )
    for i, (name, values, colour) in enumerate(series):
        if not len(values):
            continue
        xs = left + plot_w * np.arange(len(values)) / max(1, n - 1)
        ys = top + plot_h - plot_h * (np.nan_to_num(values) - y_min) / (y_max - y_min or 1.0)
        points = " ".join(f"{x:.1f},{y:.1f}" for x, y in zip(xs, ys, strict=True))
        parts.append(
            f'<polyline points="{points}" fill="none" stroke="{colour}" stroke-width="1.3"/>'
        )
        parts.append(
            f'<text x="{left + 8 + 110 * i}" y="{height - 8}" fill="{colour}">'
            f"■ {html.escape(name)}</text>"
        )
    parts.append("</svg>")
    return "".join(parts)


def write_html_report(
    directory: Path,
    traces: Mapping[str, Trace],
    kpis: Mapping[str, Mapping[str, Any]],
    prices: Prices,
    title: str,
    setup_lines: Sequence[str],
) -> Path:
    """Write ``index.html`` (and ``kpis.csv``) into ``directory``; return the HTML path."""
    directory.mkdir(parents=True, exist_ok=True)
    any_trace = next(iter(traces.values()))
    s = any_trace.scenario
    per_day = max(1, round(86400.0 / s.step_s))
    kwh = s.hours_per_step / 1000.0
    sections = [
        f"<h1>{html.escape(title)}</h1>",
        "<ul>" + "".join(f"<li>{html.escape(line)}</li>" for line in setup_lines) + "</ul>",
        f"<pre>{html.escape(console_table(kpis))}</pre>",
    ]

    def colour(name: str) -> str:
        return COLOURS.get(name, "#000")

    charts = [
        svg_lines(
            "Mined energy per day",
            [(n, _daily(t.miners_w * kwh, per_day), colour(n)) for n, t in traces.items()],
            "kWh/day",
        ),
        svg_lines(
            "Exported energy per day",
            [(n, _daily(t.grid_export_w * kwh, per_day), colour(n)) for n, t in traces.items()],
            "kWh/day",
        ),
        svg_lines(
            "Imported energy per day",
            [(n, _daily(t.grid_import_w * kwh, per_day), colour(n)) for n, t in traces.items()],
            "kWh/day",
        ),
        svg_lines(
            "Lowest SoC of each day",
            [(n, _daily(t.soc_end_pct, per_day, "min"), colour(n)) for n, t in traces.items()],
            "%",
        ),
        svg_lines(
            "Miners' mean power per day",
            [(n, _daily(t.miners_w, per_day, "mean"), colour(n)) for n, t in traces.items()],
            "W",
        ),
        svg_lines(
            "Cumulative BTC mined",
            [
                (
                    n,
                    np.cumsum(_daily(t.hashrate_ths, per_day))
                    * s.step_s
                    / 86400.0
                    * prices.network.btc_per_th_day,
                    colour(n),
                )
                for n, t in traces.items()
            ],
            "BTC",
        ),
        svg_lines(
            f"Cumulative mining revenue ({prices.currency})",
            [
                (
                    n,
                    np.cumsum(_daily(t.hashrate_ths, per_day))
                    * s.step_s
                    / 86400.0
                    * prices.network.btc_per_th_day
                    * prices.network.btc_price,
                    colour(n),
                )
                for n, t in traces.items()
            ],
            prices.currency,
        ),
    ]
    # A week in detail (the sunniest week by PV): SoC and miner power per step.
    week = min(7 * per_day, s.steps)
    daily_pv = _daily(s.pv_w, per_day)
    if len(daily_pv) >= 7:
        first = int(np.argmax(np.convolve(daily_pv, np.ones(7), "valid"))) * per_day
    else:
        first = 0
    window = slice(first, first + week)
    charts.append(
        svg_lines(
            f"SoC, week from day {first // per_day + 1}",
            [(n, t.soc_end_pct[window], colour(n)) for n, t in traces.items()],
            "%",
        )
    )
    charts.append(
        svg_lines(
            f"Miner power, week from day {first // per_day + 1}",
            [(n, t.miners_w[window], colour(n)) for n, t in traces.items()]
            + [("PV", s.pv_w[window], "#f2b705"), ("house", s.load_w[window], "#495057")],
            "W",
        )
    )
    sections += [f"<div>{chart}</div>" for chart in charts]
    page = (
        "<!doctype html><html><head><meta charset='utf-8'>"
        f"<title>{html.escape(title)}</title>"
        "<style>body{font-family:sans-serif;margin:2em;max-width:900px}"
        "pre{background:#f8f9fa;padding:1em}</style></head><body>"
        + "\n".join(sections)
        + "</body></html>"
    )
    path = directory / "index.html"
    path.write_text(page, encoding="utf-8")
    keys = sorted({k for row in kpis.values() for k in row})
    lines = [",".join(keys)]
    for row in kpis.values():
        lines.append(",".join(str(row.get(k, "")) for k in keys))
    (directory / "kpis.csv").write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path
