"""The web panel in a real browser (Debian's chromium through Playwright) against the demo's
simulated site: every page loads without a console error (screenshots of each at 1280x800 and
390x844 go to reports/panel/), live values move with the plant, a command sent from the page is
obeyed by the simulated miner, the panel works under Home Assistant's ingress prefix and a
client address that is not allowed gets 403."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from braiins_support import fresh_host
from web_support import INGRESS_PREFIX, SCREENSHOTS, PanelSite, wait_until

PAGES = ("now", "miners", "history", "plan", "earnings", "settings")
# The Plan page has drawn a plan: both charts.
PLAN_DRAWN = (
    "() => document.getElementById('plan-badge').textContent === 'planning'"
    " && document.querySelector('#chart-plan .u-over') !== null"
    " && document.querySelector('#chart-plansoc .u-over') !== null"
)
VIEWPORTS = ((1280, 800), (390, 844))
# What shows that a page has rendered its live data.
READY = {
    "now": "() => document.getElementById('now-pv').textContent !== '–'",
    "miners": "() => document.querySelectorAll('#miner-cards .miner').length === 3",
    "history": "() => document.querySelector('#chart-power .u-over') !== null"
    " && document.querySelector('#chart-soc .u-over') !== null",
    "plan": "() => document.getElementById('plan-badge').textContent !== '–'",
    "earnings": "() => document.querySelectorAll('#earnings-table tbody tr').length === 6",
    "settings": "() => document.querySelectorAll('#settings-rows form').length === 10",
}


@pytest.fixture(scope="module")
def panel(tmp_path_factory) -> Iterator[PanelSite]:
    site = PanelSite(
        tmp_path_factory.mktemp("panel"), fresh_host(), fresh_host(), fresh_host()
    ).start()
    try:
        yield site
    finally:
        site.close()


class Watched:
    """A page whose console errors, uncaught exceptions and requests are recorded."""

    def __init__(self, browser: Any, width: int = 1280, height: int = 800) -> None:
        self.context = browser.new_context(viewport={"width": width, "height": height})
        self.page = self.context.new_page()
        self.errors: list[str] = []
        self.requests: list[str] = []
        self.page.on(
            "console",
            lambda m: self.errors.append(f"console: {m.text}") if m.type == "error" else None,
        )
        self.page.on("pageerror", lambda e: self.errors.append(f"page error: {e}"))
        self.page.on("request", lambda r: self.requests.append(r.url))

    def open(self, url: str, page: str) -> None:
        self.page.goto("about:blank")
        self.page.goto(f"{url}#{page}")
        self.page.wait_for_function("() => document.getElementById('conn').textContent === 'live'")
        self.page.wait_for_function(READY[page])

    def close(self) -> None:
        self.context.close()


@pytest.fixture
def watched(browser) -> Iterator[Watched]:
    page = Watched(browser)
    try:
        yield page
    finally:
        page.close()


def _panel_rows(panel: PanelSite) -> list[Any]:
    import httpx

    return httpx.get(panel.url + "api/history", timeout=5).json()["columns"]["t"]


def test_every_page_loads_without_console_errors_and_is_screenshotted(browser, panel) -> None:
    # Some simulated hours first, so the history has something to show.
    wait_until(lambda: len(_panel_rows(panel)) >= 40, 60, "40 minutes of history")
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    for width, height in VIEWPORTS:
        watched = Watched(browser, width, height)
        try:
            for page in PAGES:
                watched.open(panel.url, page)
                active = watched.page.locator("#tabs a.active").get_attribute("data-page")
                assert active == page
                assert watched.page.locator(f"#page-{page}").is_visible()
                if page == "plan":  # the demo plans from its first tick: the page draws it
                    watched.page.wait_for_function(PLAN_DRAWN)
                watched.page.wait_for_timeout(300)  # let the bars and charts settle
                watched.page.screenshot(
                    path=str(SCREENSHOTS / f"{page}-{width}x{height}.png"), full_page=True
                )
            assert watched.errors == []
            # Nothing loaded from anywhere but the panel itself (no CDN).
            assert all(
                url.startswith(panel.url) or url == "about:blank" for url in watched.requests
            )
        finally:
            watched.close()
    for page in PAGES:
        for width, height in VIEWPORTS:
            assert (SCREENSHOTS / f"{page}-{width}x{height}.png").stat().st_size > 10_000


def test_live_values_move_with_the_plant_without_reloading(watched, panel) -> None:
    watched.open(panel.url, "now")
    page = watched.page
    page.evaluate("() => { window.__not_reloaded = true; }")
    first_clock = page.locator("#clock").text_content()
    first_pv = page.locator("#now-pv").text_content()
    page.wait_for_function(
        "([clock, pv]) => document.getElementById('clock').textContent !== clock"
        " && document.getElementById('now-pv').textContent !== pv",
        arg=[first_clock, first_pv],
        timeout=15_000,
    )
    assert page.evaluate("() => window.__not_reloaded") is True
    # What the page shows is the daemon's latest tick: within a simulated minute of it.
    shown = page.evaluate("() => fetch('api/state').then(r => r.json()).then(s => s.time)")
    assert abs(shown - panel.call(lambda: panel.daemon.state.time)) < 60
    assert watched.errors == []


def test_the_earnings_page_counts_the_energy_mined_as_the_demo_runs(watched, panel) -> None:
    """The counters are published as saved: the demo saves every second, so its figures move
    (at the default minute of wall time, a short demo would show 0.00 kWh throughout)."""
    watched.open(panel.url, "earnings")
    watched.page.wait_for_function(
        "() => { const cell = document.querySelector('#earnings-table tbody tr td:nth-child(2)');"
        " return cell && parseFloat(cell.textContent) > 0; }",
        timeout=20_000,
    )
    page = watched.page

    def today() -> dict[str, float]:
        return page.evaluate(
            "() => fetch('api/state').then(r => r.json()).then(s => s.earnings.today)"
        )

    def sats_of(period: dict[str, float]) -> float:
        return period["earnings"] / panel.site.economics.btc_price * 1e8

    # The figures grow while the demo runs: the page's bitcoin (at the configured price, in
    # sats) is read from a state rendered after ``before`` was fetched (the clock moved on
    # twice: the first new state may have been on its way already) and before ``after`` was,
    # so it lies between the two (whole sats shown).
    before = today()
    assert before["mined_kwh"] > 0 and before["earnings"] > 0, before
    for _ in range(2):
        clock = page.locator("#clock").text_content()
        page.wait_for_function(
            "c => document.getElementById('clock').textContent !== c", arg=clock, timeout=15_000
        )
    shown = page.locator('#earnings-table tr[data-key="btc"] td').nth(1).text_content() or ""
    after = today()
    sats = float(shown.removesuffix(" sats").replace(",", ""))
    assert sats_of(before) - 1.0 <= sats <= sats_of(after) + 1.0, (shown, before, after)
    assert watched.errors == []


def test_a_command_from_the_miners_page_is_obeyed_by_the_simulated_miner(watched, panel) -> None:
    watched.open(panel.url, "miners")
    page = watched.page
    card = page.locator('#miner-cards .miner[data-miner="s19jpro"]')

    def miner() -> Any:
        return panel.call(lambda: panel.daemon.state.miners["s19jpro"])

    def manual() -> bool:
        return panel.call(lambda: "s19jpro" in panel.daemon.state.manual_miners)

    card.locator('button[data-action="stop"]').click()
    wait_until(lambda: manual() and miner().status.value == "paused", 20, "s19jpro paused")
    page.wait_for_function(
        "() => document.querySelector('.miner[data-miner=\"s19jpro\"] .badge.manual') !== null"
    )
    card.locator("input[type=number]").fill("1500")
    card.locator("button", has_text="Set target").click()
    card.locator(".feedback", has_text="target 1500 W sent").wait_for()
    card.locator('button[data-action="start"]').click()
    wait_until(
        lambda: miner().status.value == "mining" and abs(miner().power_w - 1500) < 60,
        30,
        "s19jpro mining at 1500 W",
    )
    assert miner().power_target_w == 1500
    page.wait_for_function(
        "() => document.querySelector('.miner[data-miner=\"s19jpro\"] [data-metric=target]')"
        ".textContent === '1.50 kW'"
    )
    card.locator('button[data-action="auto"]').click()
    wait_until(lambda: not manual(), 20, "s19jpro back to auto")
    assert watched.errors == []


def test_settings_are_checked_like_mqtt_commands(watched, panel) -> None:
    watched.open(panel.url, "settings")
    page = watched.page
    row = page.locator('#settings-rows form[data-field="stop_soc_pct"]')
    row.locator("input").fill("90")  # within 0-100, but above the start SoC (80)
    row.locator("button").click()
    feedback = row.locator(".feedback")
    feedback.filter(has_text="must be below start_soc_pct").wait_for()
    assert panel.call(lambda: panel.daemon.control.stop_soc_pct) == 40
    row.locator("input").fill("35")
    row.locator("button").click()
    feedback.filter(has_text="saved").wait_for()
    wait_until(lambda: panel.call(lambda: panel.daemon.control.stop_soc_pct) == 35)
    row.locator("input").fill("40")
    row.locator("button").click()
    wait_until(lambda: panel.call(lambda: panel.daemon.control.stop_soc_pct) == 40)
    # The browser's console shows the 400 of the refused setting; nothing else.
    assert [e for e in watched.errors if "400" not in e] == []


def test_the_panel_works_under_the_ingress_prefix(watched, panel) -> None:
    for page in ("now", "history", "miners"):
        watched.open(panel.ingress_url, page)
    watched.page.evaluate("() => { window.__not_reloaded = true; }")
    first = watched.page.locator("#clock").text_content()
    watched.page.wait_for_function(
        "c => document.getElementById('clock').textContent !== c", arg=first, timeout=15_000
    )
    assert watched.errors == []
    origin = panel.ingress_url.split(INGRESS_PREFIX)[0]
    assert watched.requests
    for url in watched.requests:
        if url != "about:blank":
            assert url.startswith(origin + INGRESS_PREFIX + "/"), url
    assert any(url.endswith(INGRESS_PREFIX + "/api/events") for url in watched.requests)


def test_a_client_address_that_is_not_allowed_gets_403(watched, panel) -> None:
    response = watched.page.goto(panel.stranger_url)
    assert response is not None and response.status == 403
    assert "may not use" in watched.page.locator("body").text_content()
    # The same request through the allowed proxy is served.
    response = watched.page.goto(panel.ingress_url)
    assert response is not None and response.status == 200


def test_decision_markers_show_their_reason_on_hover(watched, panel) -> None:
    watched.open(panel.url, "history")
    page = watched.page
    page.wait_for_function(
        "() => window.edgeMiningPanel.history.markers.length > 0", timeout=30_000
    )
    # Where the newest decision's triangle with no other one near it is drawn, in page
    # coordinates. The time axis is held where it is (as a user's zoom holds it), so that the
    # live data arriving meanwhile neither moves the triangle nor crowds it.
    page.wait_for_function(
        """() => {
            const app = window.edgeMiningPanel, u = app.charts.power;
            const [min, max] = [u.scales.x.min, u.scales.x.max];
            const xs = app.history.markers.filter(m => m.t >= min && m.t <= max)
                .map(m => u.valToPos(m.t, "x"));
            return xs.some((x, i) => xs.every((y, j) => i === j || Math.abs(x - y) > 20));
        }""",
        timeout=30_000,
    )
    point = page.evaluate(
        """() => {
            const app = window.edgeMiningPanel, u = app.charts.power;
            app.zoomed = true;
            u.setScale("x", {min: u.scales.x.min, max: u.scales.x.max});
            const shown = app.history.markers.filter(
                m => m.t >= u.scales.x.min && m.t <= u.scales.x.max);
            const xs = shown.map(m => u.valToPos(m.t, "x"));
            const alone = shown.filter(
                (m, i) => xs.every((y, j) => i === j || Math.abs(xs[i] - y) > 20));
            const marker = alone[alone.length - 1];
            const box = u.over.getBoundingClientRect();
            return {x: box.left + u.valToPos(marker.t, "x"), y: box.top + 20,
                    commands: marker.commands};
        }"""
    )
    page.mouse.move(point["x"], point["y"])
    tip = page.locator("#marker-tip")
    tip.wait_for(state="visible")
    assert point["commands"][0] in tip.text_content()
    page.mouse.move(5, 5)
    tip.wait_for(state="hidden")
    assert watched.errors == []


def test_the_plan_page_draws_the_demo_s_own_plan(watched, panel) -> None:
    """The demo's planner (its simulated forecast, its seeded house load) plans from the first
    tick; the Plan page draws that plan, and the decisions cite it."""
    watched.open(panel.url, "plan")
    page = watched.page
    page.wait_for_function(PLAN_DRAWN)
    shown = page.evaluate("() => window.edgeMiningPanel.live.plan")
    plan = panel.call(lambda: panel.daemon.state.plan)
    assert plan["status"] == "planned" and shown["planning"] is True
    # The page shows the daemon's plan (the state it shows may be a tick older).
    assert abs(shown["created"] - plan["created"]) <= panel.site.planner.interval_s
    assert page.locator("#plan-summary").text_content() == shown["summary"]
    assert shown["summary"].startswith("plan: ")
    steps = shown["steps"]
    # The steps that overlap the next 24 h, back to back: the first holds the document's time
    # (a quarter hour of a plan at most one interval old), the last (an hour) holds 24 h later.
    assert all(a["end"] == b["t"] for a, b in zip(steps, steps[1:], strict=False))
    assert shown["created"] <= steps[0]["t"] <= shown["created"] + panel.site.planner.interval_s
    assert 24 * 3600 <= steps[-1]["end"] - steps[0]["t"] < 25 * 3600 + 900
    assert steps[-1]["end"] - steps[-1]["t"] == 3600
    assert any(s["pv_w"] > 1000 for s in steps) and any(s["pv_w"] == 0 for s in steps)
    assert all(0 <= s["soc"] <= 100 and s["load_w"] > 0 for s in steps)
    # Mining never takes the battery below the reserve: a step that starts below it mines the
    # surplus PV at most (with a grid the reserve keeps the battery's energy, not the sun's).
    for before, s in zip(steps, steps[1:], strict=False):
        if before["soc"] < shown["reserve_soc"] - 0.5:
            assert s["mining_w"] <= max(0.0, s["pv_w"] - s["load_w"]) + 1.0, (before, s)
    power = page.evaluate("() => window.edgeMiningPanel.charts.plan.data")
    soc = page.evaluate("() => window.edgeMiningPanel.charts.plansoc.data")
    assert len(power) == 4 and len(soc) == 3  # x, solar, house, mining / x, SoC, reserve
    assert power[0] == soc[0] and len(power[0]) == len(steps) + 1
    assert power[3][:-1] == [s["mining_w"] for s in steps]
    assert set(soc[2]) == {shown["reserve_soc"]}
    facts = page.locator("#plan-facts").text_content()
    assert "Battery reserve" in facts and f"{shown['reserve_soc']:.0f} %" in facts
    # The decision the Now page shows cites the plan.
    reason = panel.call(lambda: panel.daemon.state.decision.reason)
    assert "plan: " in reason and "reserve" in reason
    for width, height in VIEWPORTS:
        page.set_viewport_size({"width": width, "height": height})
        page.wait_for_timeout(300)  # the charts follow the width
        width_drawn = page.evaluate("() => window.edgeMiningPanel.charts.plan.width")
        assert width_drawn <= width - 20, (width, width_drawn)  # no sideways scrolling
        assert page.evaluate("() => document.documentElement.scrollWidth") <= width
        page.screenshot(path=str(SCREENSHOTS / f"plan-drawn-{width}x{height}.png"), full_page=True)
    assert watched.errors == []


def test_without_a_plan_the_page_says_why_the_rules_decide(watched, panel, monkeypatch):
    """The planner's own document when it cannot plan (here: no forecast) replaces the
    demo's plan in what the page receives; the page says why and shows no chart."""
    import edge_mining.web.server as server
    from edge_mining.config import EconomicsConfig, PlannerConfig
    from edge_mining.control.planning import Planning
    from edge_mining.model import EnergyReading
    from edge_mining.web.documents import plan_document

    now = panel.call(lambda: panel.daemon.state.time)
    planning = Planning(PlannerConfig(battery_kwh=10.0), EconomicsConfig(), 30.0)
    reading = EnergyReading(timestamp=now, pv_power_w=1000.0, battery_soc_pct=80.0)
    assert planning.update(now, reading, None, [], grid_connected=True) is None
    fallback = planning.document(now)
    real = server.live_document

    def without_plan(site, state, totals):
        document = real(site, state, totals)
        document["plan"] = plan_document(fallback)
        return document

    monkeypatch.setattr(server, "live_document", without_plan)
    watched.open(panel.url, "plan")
    page = watched.page
    page.wait_for_function("() => document.getElementById('plan-badge').textContent === 'rules'")
    assert (
        page.locator("#plan-summary").text_content()
        == "No plan: the controller follows its rules (no hourly PV forecast)."
    )
    assert page.locator("#plan-empty").is_visible()
    assert page.locator("#plan-power-card").is_hidden()
    assert page.locator("#plan-battery-card").is_hidden()
    assert page.locator("#plan-facts").is_hidden()
    assert watched.errors == []
