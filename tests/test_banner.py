"""The log's first line (the banner) and one line per change that matters afterwards."""

from __future__ import annotations

import logging
from pathlib import Path

from edge_mining import __version__
from edge_mining.config import ControlConfig, load_config
from edge_mining.counters import EnergyCounters
from edge_mining.model import Decision, EnergyReading, MinerState, MinerStatus, Mode
from edge_mining.service import SiteState
from edge_mining.service.banner import ChangeLog, banner

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
