"""The log's first line (the banner) and one line per change that matters afterwards."""

from __future__ import annotations

import dataclasses
import logging
from pathlib import Path

from edge_mining import __version__
from edge_mining.config import ControlConfig, ForecastConfig, load_config
from edge_mining.counters import EnergyCounters
from edge_mining.model import Decision, EnergyReading, MinerState, MinerStatus, Mode
from edge_mining.service import SiteState
from edge_mining.service.banner import ChangeLog, PlannerWatch, banner, planner_text

ROOT = Path(__file__).resolve().parents[1]
SECRETS = {
    "EDGE_MINING_MQTT_PASSWORD": "mqtt-pw-123",
    "EDGE_MINING_MINER_GARAGE_S19_PASSWORD": "miner-pw-456",
    "EDGE_MINING_FORECAST_API_KEY": "forecast-key-789",
    "EDGE_MINING_HOMEASSISTANT_TOKEN": "ha-token-000",
}


def test_the_banner_says_what_runs_and_never_a_secret():
    site = load_config(ROOT / "examples" / "site.yaml", environ=SECRETS)
    line = banner(site, broker_origin="from site.yaml")
    assert line.startswith(f"edge-mining {__version__} starting for 'Home in the hills'; ")
    assert "energy from Voltronic PI30 on /dev/ttyUSB0" in line
    assert "garage-s19 (braiins 192.168.1.50, 1200-3300 W)" in line
    assert "cellar-s9 (braiins 192.168.1.51, 700-1400 W)" in line
    assert "MQTT broker 192.168.1.10:1883 (from site.yaml)" in line
    assert "\n" not in line
    for secret in SECRETS.values():
        assert secret not in line
    off = site.model_copy(update={"mqtt": site.mqtt.model_copy(update={"enabled": False})})
    assert "MQTT off (mqtt.enabled: false)" in banner(off, broker_origin="-")


def state(t: float, statuses: dict[str, MinerStatus], *, stale: bool = False) -> SiteState:
    reasons = {name: f"reason for {name}" for name in statuses}
    return SiteState(
        time=t,
        mode=Mode.AUTO,
        control=ControlConfig(),
        energy=EnergyReading(timestamp=t, pv_power_w=1000.0),
        energy_age_s=90.0 if stale else 1.0,
        energy_stale=stale,
        energy_error="no answer" if stale else None,
        miners={
            name: MinerState(
                name=name,
                timestamp=t,
                status=status,
                errors=("boards overheated",) if status is MinerStatus.ERROR else (),
            )
            for name, status in statuses.items()
        },
        forecast=None,
        decision=Decision(t, (), 0.0, 0.0, 40.0, "auto: ...", reasons),
        counters=EnergyCounters(),
    )


def test_one_line_per_change_that_matters(caplog):
    changes = ChangeLog()
    P, S, M, E = MinerStatus.PAUSED, MinerStatus.STARTING, MinerStatus.MINING, MinerStatus.ERROR
    sequence = [
        state(0, {"a": P, "b": P}),
        state(5, {"a": P, "b": P}),
        state(10, {"a": S, "b": P}),
        state(15, {"a": M, "b": P}),
        state(20, {"a": M, "b": P}),
        state(25, {"a": M, "b": P}, stale=True),
        state(30, {"a": M, "b": P}, stale=True),
        state(35, {"a": M, "b": E}),
        state(40, {"a": P, "b": E}),
    ]
    with caplog.at_level(logging.INFO, logger="edge_mining"):
        for item in sequence:
            changes(item)
    lines = [(r.levelname, r.getMessage()) for r in caplog.records]
    assert lines == [
        ("INFO", "miner a: paused -> mining (reason for a)"),
        ("WARNING", "energy data stale (90 s old): no answer: miners to the safe action"),
        ("INFO", "energy data fresh again"),
        ("WARNING", "miner b: paused -> error: boards overheated"),
        ("INFO", "miner a: mining -> paused (reason for a)"),
    ]


def test_the_banner_says_whether_the_planner_plans_and_if_not_what_it_lacks():
    site = load_config(ROOT / "examples" / "site.yaml", environ=SECRETS)
    on = "planner on (10 kWh battery, forecast_solar forecast)"
    assert planner_text(site) == on
    assert banner(site, broker_origin="-").endswith(f"; {on}")
    assert planner_text(site, load_history=False) == (
        "planner on (10 kWh battery, forecast_solar forecast; no house-load history yet: "
        "the rules decide until it is learned)"
    )
    assert planner_text(site, load_history=True) == on
    off = site.model_copy(update={"planner": site.planner.model_copy(update={"enabled": False})})
    assert planner_text(off) == "planner off (planner.enabled: false)"
    # A real inverter does not report its capacity: without planner.battery_kwh, no plan.
    ha_site = load_config(ROOT / "examples" / "site-homeassistant.yaml", environ=SECRETS)
    assert planner_text(ha_site) == "planner off (no battery capacity: set planner.battery_kwh)"
    bare = ha_site.model_copy(update={"forecast": ForecastConfig()})
    assert banner(bare, broker_origin="-").endswith(
        "; planner off (no battery capacity: set planner.battery_kwh; no forecast: set forecast)"
    )
    # The simulated plant lends its battery; the demo's forecast is its own.
    simulated = load_config(ROOT / "examples" / "simulated.yaml")
    assert planner_text(simulated) == "planner off (no forecast: set forecast)"
    planned = simulated.model_copy(update={"forecast": ForecastConfig(type="simulated")})
    kwh = simulated.energy_source.plant.battery_kwh
    assert planner_text(planned) == f"planner on ({kwh:g} kWh battery, simulated forecast)"


def plan(status: str, summary: str | None = None) -> dict[str, object]:
    return {"status": status, "summary": summary, "steps": []}


def test_the_planner_s_changes_are_logged_once_each(caplog):
    """Planning, falling back to the rules and planning again: one line per change; a new plan
    with the same status, a repeated status and the quiet statuses say nothing."""
    changes = ChangeLog()
    base = state(0, {"a": MinerStatus.PAUSED})
    plans = [
        None,  # no planner
        plan("planner off"),
        plan("no plan yet"),
        plan("planned", "plan: 2.0 kWh from the battery"),
        plan("planned", "plan: 2.1 kWh from the battery"),  # a new plan, no news
        plan("no hourly PV forecast"),
        plan("no hourly PV forecast"),
        plan("the forecast is older than a day"),
        plan("planned", "plan: mining 1.0 kWh"),
    ]
    with caplog.at_level(logging.INFO, logger="edge_mining"):
        for k, document in enumerate(plans):
            changes(dataclasses.replace(base, time=float(k), plan=document))
    lines = [(r.levelname, r.getMessage()) for r in caplog.records]
    assert lines == [
        ("INFO", "planner: planning (plan: 2.0 kWh from the battery)"),
        ("WARNING", "planner: the rules decide (no hourly PV forecast)"),
        ("INFO", "planner: the rules decide (the forecast is older than a day)"),
        ("INFO", "planner: planning (plan: mining 1.0 kWh)"),
    ]
    # Never planned: falling back is no warning.
    watch = PlannerWatch()
    assert watch.change(plan("no house-load history yet")) == (
        logging.INFO,
        "planner: the rules decide (no house-load history yet)",
    )
    assert watch.change(plan("no house-load history yet")) is None
    assert watch.change({"status": 3}) is None and watch.change("planned") is None
