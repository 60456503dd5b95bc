"""The backtest report in a real browser: one file that opens offline, no console error, the
sections a user decides on, and charts with dated axes (uPlot's own tick labels)."""

from __future__ import annotations

import json
import re
from pathlib import Path

from edge_mining.analysis.weather import pvlib_sample
from edge_mining.cli import main

WEATHER = str(pvlib_sample("723170TYA.CSV"))
SCREENSHOTS = Path(__file__).resolve().parent.parent / "reports" / "panel"


def test_the_report_opens_offline_with_dated_axes(browser, tmp_path, capsys) -> None:
    # Forty days from the 1st of June: two months, the sunnier and the darker one.
    args = [
        "backtest", "--weather", WEATHER, "--miner", "S19j Pro", "--policies",
        "edge,seed,export", "--step-min", "30", "--start-day", "151", "--days", "40",
        "--json", "--report", str(tmp_path / "report"),
    ]  # fmt: skip
    assert main(args) == 0
    kpis = {row["policy"]: row for row in json.loads(capsys.readouterr().out)}
    page_path = tmp_path / "report" / "index.html"
    html = page_path.read_text(encoding="utf-8")
    assert not re.search(r"(src|href)\s*=\s*['\"]?(https?:)?//", html)  # nothing from elsewhere
    context = browser.new_context(viewport={"width": 1280, "height": 800}, offline=True)
    page = context.new_page()
    errors: list[str] = []
    page.on("console", lambda m: errors.append(m.text) if m.type == "error" else None)
    page.on("pageerror", lambda e: errors.append(str(e)))
    try:
        page.goto(page_path.as_uri())
        page.wait_for_function("() => window.reportCharts && window.reportCharts.length === 4")
        headings = page.locator("h2").all_text_contents()
        assert headings[:3] == ["Assumptions", "Net gain versus exporting", "Monthly energy flows"]
        assert "A typical summer and winter day" in headings
        assert "Cumulative net gain versus exporting" in headings
        # The assumptions come first, then the policies ranked by net gain.
        assert "GREENSBORO" in page.locator(".assumptions").text_content()
        ranked = page.locator(".gain-row").evaluate_all("rows => rows.map(r => r.dataset.policy)")
        expected = sorted(("edge", "seed"), key=lambda name: -kpis[name]["gain_vs_export"])
        assert ranked == expected
        value = page.locator('.gain-row[data-policy="edge"] .gain-value').text_content()
        assert f"{abs(kpis['edge']['gain_vs_export']):,.2f} USD" in value
        ticks = page.evaluate("() => window.reportCharts.map(c => c.axes[0]._values || [])")
        monthly, summer, winter, cumulative = ticks
        assert [t for t in monthly if t] == ["Jun 23", "Jul 23"]  # one label per month's bar
        titles = page.locator(".seasons h2").all_text_contents()
        assert titles == ["Sunniest month (Jun)", "Darkest month (Jul)"]  # no "winter" in July
        assert "12:00" in summer and "12:00" in winter
        assert any(re.search(r"Jun|Jul", str(t)) for t in cumulative), cumulative
        gain_ticks = page.evaluate("() => window.reportCharts[3].axes[1]._values || []")
        assert len({len(t.rpartition(".")[2]) if "." in t else 0 for t in gain_ticks}) == 1, (
            gain_ticks  # one number format per axis: not "5.0" beside "10"
        )
        SCREENSHOTS.mkdir(parents=True, exist_ok=True)
        page.screenshot(path=str(SCREENSHOTS / "backtest-report-1280x800.png"), full_page=True)
        assert errors == []
    finally:
        context.close()
