"""Configuration: loaders, secrets, env overrides, the add-on options, the example file."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from conftest import MINER_3KW, site_data, write_yaml

from edge_mining.config import ConfigError, load_addon_options, load_config, parse_config
from edge_mining.devices import factory
from edge_mining.sim.devices import SimulatedEnergySource, SimulatedMiner

ROOT = Path(__file__).resolve().parents[1]
SECRET = "hunter2-very-secret"


def test_example_site_is_valid():
    site = load_config(ROOT / "examples" / "site.yaml", environ={})
    assert site.energy_source.type == "voltronic"
    assert [m.name for m in site.miners] == ["garage-s19", "cellar-s9"]
    assert site.forecast.type == "forecast_solar"


def test_secrets_never_in_repr_or_dump(tmp_path):
    data = site_data(tmp_path)
    data["mqtt"] = {"host": "127.0.0.1", "password": SECRET}
    data["miners"][0]["password"] = SECRET
    data["homeassistant"] = {"token": SECRET}
    site = parse_config(data, environ={})
    assert SECRET not in repr(site)
    assert SECRET not in str(site)
    assert SECRET not in site.model_dump_json()
    assert site.mqtt.password.get_secret_value() == SECRET


def test_env_overrides_secrets(tmp_path):
    data = site_data(tmp_path)
    data["miners"][0]["name"] = "garage-s19"
    data["mqtt"] = {"host": "127.0.0.1", "password": "from-file"}
    environ = {
        "EDGE_MINING_MQTT_PASSWORD": "from-env",
        "EDGE_MINING_MINER_GARAGE_S19_PASSWORD": "miner-env",
        "EDGE_MINING_HOMEASSISTANT_TOKEN": "token-env",
    }
    site = load_config(write_yaml(tmp_path / "site.yaml", data), environ=environ)
    assert site.mqtt.password.get_secret_value() == "from-env"
    assert site.miners[0].password.get_secret_value() == "miner-env"
    assert site.homeassistant.token.get_secret_value() == "token-env"


def test_addon_options_json_loads(tmp_path):
    options = {
        "energy_source": {"type": "simulated", "plant": {"battery_kwh": 5}},
        "miners": [MINER_3KW],
        "control": {"start_soc_pct": 85},
    }
    path = tmp_path / "options.json"
    path.write_text(json.dumps(options))
    site = load_addon_options(path, environ={})
    assert site.state_dir == tmp_path  # the add-on keeps its state next to its options
    assert site.control.start_soc_pct == 85
    assert site.energy_source.plant.battery_kwh == 5


def test_addon_options_invalid_json_is_a_config_error(tmp_path):
    path = tmp_path / "options.json"
    path.write_text("{not json")
    with pytest.raises(ConfigError) as caught:
        load_addon_options(path, environ={})
    assert "invalid JSON" in caught.value.problems[0]


def test_factory_builds_simulated_devices_on_one_plant(sim_site):
    from edge_mining.clock import ManualClock

    devices = factory.build_devices(sim_site, clock=ManualClock(0.0))
    assert isinstance(devices.energy, SimulatedEnergySource)
    miner = devices.miners["m3k"]
    assert isinstance(miner, SimulatedMiner)
    assert devices.energy.plant is miner.plant is devices.plant
    assert devices.forecast is None


def test_factory_reports_a_missing_driver_as_a_config_problem(monkeypatch):
    with pytest.raises(ConfigError) as caught:
        factory._load("edge_mining.devices.no_such_driver:Driver", "energy_source.type")
    (line,) = caught.value.problems
    assert line.startswith("energy_source.type: this driver is not available in this build")
    with pytest.raises(ConfigError) as caught:
        factory._load("edge_mining.sim.plant:NoSuchClass", "miners.0.driver")
    assert caught.value.problems[0].startswith("miners.0.driver:")


def test_factory_turns_a_driver_constructor_error_into_a_config_problem():
    class Picky:
        def __init__(self, config: object) -> None:
            raise ValueError("device path does not exist")

    with pytest.raises(ConfigError) as caught:
        factory._construct(Picky, "energy_source", object())
    assert caught.value.problems == [
        "energy_source: cannot set up this driver: device path does not exist"
    ]


def test_several_threshold_problems_are_reported_one_line_each() -> None:
    from edge_mining.config import ConfigError, parse_config

    raw = {
        "energy_source": {"type": "simulated"},
        "control": {"start_soc_pct": 30, "stop_soc_pct": 50, "forecast_sunny_kwh": 1},
        "miners": [
            {
                "name": "a",
                "min_power_w": 1,
                "max_power_w": 3,
                "nominal_hashrate_ths": 1,
                "nominal_power_w": 1,
            }
        ],
    }
    try:
        parse_config(raw, {})
    except ConfigError as error:
        problems = error.problems
    else:
        raise AssertionError("impossible thresholds were accepted")
    assert len(problems) == 3
    assert all(line.startswith("control: ") for line in problems)
    assert any("stop_soc_pct (50) must be below start_soc_pct (30)" in line for line in problems)
