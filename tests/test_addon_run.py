"""``edge-mining run --addon``: options.json, bad options, the Supervisor's MQTT service."""

from __future__ import annotations

import json
import logging
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
import yaml

from edge_mining.addon.options import load_addon_site, normalize_options
from edge_mining.addon.supervisor import apply_supervisor_services
from edge_mining.config import ConfigError, parse_config
from tests.loopback_http import Reply, Request, serving

ROOT = Path(__file__).resolve().parent.parent
DEFAULT_OPTIONS = yaml.safe_load((ROOT / "config.yaml").read_text(encoding="utf-8"))["options"]
MINER = {
    "name": "s9",
    "driver": "braiins",
    "host": "127.0.0.1",
    "password": "hunter2-secret",
    "min_power_w": 700,
    "max_power_w": 1400,
    "nominal_hashrate_ths": 13.5,
    "nominal_power_w": 1300,
}
BROKER = {
    "host": "core-mosquitto",
    "port": 1884,
    "ssl": False,
    "protocol": "3.1.1",
    "username": "addons",
    "password": "broker-secret",
    "addon": "core_mosquitto",
}


def options(**changes: Any) -> dict[str, Any]:
    """The add-on's default options as the Supervisor stores them, with a miner, changed."""
    data = json.loads(json.dumps(DEFAULT_OPTIONS))
    data["energy_source"]["device"] = "/dev/ttyUSB0"
    data["miners"] = [dict(MINER)]
    for key, value in changes.items():
        data[key] = value
    return data


def write_options(directory: Path, data: dict[str, Any]) -> Path:
    path = directory / "options.json"
    path.write_text(json.dumps(data), encoding="utf-8")
    return path


# -------------------------------------------------------------------------- options.json


def test_default_options_with_a_miner_load_and_state_goes_next_to_them(tmp_path: Path) -> None:
    site = load_addon_site(write_options(tmp_path, options()), environ={})
    assert site.energy_source.type == "voltronic"
    assert site.state_dir == tmp_path  # /data inside the add-on
    assert site.miners[0].password.get_secret_value() == "hunter2-secret"


def test_fields_of_other_energy_source_types_are_ignored(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    data = options()
    data["energy_source"].update(
        host="192.168.1.9", port=1502, pv_power={"entity_id": "sensor.pv", "invert": False}
    )
    with caplog.at_level(logging.INFO, logger="edge_mining.addon.options"):
        site = load_addon_site(write_options(tmp_path, data), environ={})
    assert site.energy_source.type == "voltronic"
    assert "energy_source.host" in caplog.text and "energy_source.pv_power" in caplog.text


def test_each_source_type_keeps_its_own_quantity_fields() -> None:
    ha = normalize_options(
        {
            "energy_source": {
                "type": "homeassistant",
                "pv_power": {"entity_id": "sensor.pv", "topic": "x/pv", "invert": True},
                "grid_power": {},
            }
        }
    )
    assert ha["energy_source"] == {
        "type": "homeassistant",
        "pv_power": {"entity_id": "sensor.pv", "invert": True},
    }
    mqtt = normalize_options(
        {
            "energy_source": {
                "type": "mqtt",
                "pv_power": {"entity_id": "sensor.pv", "topic": "x/pv", "scale": 1000.0},
                "device": "/dev/ttyUSB0",
            }
        }
    )
    assert mqtt["energy_source"] == {
        "type": "mqtt",
        "pv_power": {"topic": "x/pv", "scale": 1000.0},
    }
    site = parse_config({**mqtt, "miners": [MINER], "state_dir": "/tmp"}, environ={})
    assert site.energy_source.pv_power.scale == 1000.0  # type: ignore[union-attr]


def shim_path(tmp_path: Path) -> str:
    """A directory holding an ``edge-mining`` that runs this tree (as the image's would)."""
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir(exist_ok=True)
    shim = bin_dir / "edge-mining"
    shim.write_text(f'#!/bin/sh\nexec "{sys.executable}" -m edge_mining.cli "$@"\n')
    shim.chmod(0o755)
    return f"{bin_dir}{os.pathsep}{os.environ['PATH']}"


def run_sh(tmp_path: Path, options_path: Path) -> subprocess.CompletedProcess[str]:
    env = {
        **os.environ,
        "PATH": shim_path(tmp_path),
        "PYTHONPATH": str(ROOT),
        "EDGE_MINING_OPTIONS": str(options_path),
    }
    env.pop("SUPERVISOR_TOKEN", None)
    return subprocess.run(
        [str(ROOT / "run.sh")], env=env, capture_output=True, text=True, timeout=60, check=False
    )


def test_bad_options_stop_with_one_line_per_problem_and_exit_2(tmp_path: Path) -> None:
    miner = {k: v for k, v in MINER.items() if k != "host"}  # missing miner host
    control = dict(
        DEFAULT_OPTIONS["control"], start_soc_pct=50, stop_soc_pct=60, stop_soc_cloudy_pct=45
    )  # impossible
    source = dict(DEFAULT_OPTIONS["energy_source"], type="fronius")  # unknown inverter type
    path = write_options(tmp_path, options(miners=[miner], control=control, energy_source=source))
    result = run_sh(tmp_path, path)
    assert result.returncode == 2, result.stderr
    problems = [line for line in result.stderr.splitlines() if line.startswith("config error:")]
    assert problems == [
        "config error: energy_source.type: unknown type 'fronius' (expected one of "
        "'simulated', 'voltronic', 'solaredge', 'homeassistant', 'mqtt')",
        "config error: miners.0: host is required for driver braiins",
        "config error: control: stop_soc_pct (60) must be below start_soc_pct (50)",
    ]
    assert "hunter2-secret" not in result.stderr + result.stdout


def test_missing_options_file_exits_2(tmp_path: Path) -> None:
    result = run_sh(tmp_path, tmp_path / "nope.json")
    assert result.returncode == 2
    assert "cannot read" in result.stderr


def test_malformed_options_file_exits_2(tmp_path: Path) -> None:
    path = tmp_path / "options.json"
    path.write_text("{not json", encoding="utf-8")
    result = run_sh(tmp_path, path)
    assert result.returncode == 2
    assert "invalid JSON at line 1" in result.stderr


# ------------------------------------------------------------------- Supervisor services


def supervisor(reply: Reply) -> Any:
    def handle(request: Request) -> Reply:
        if request.headers.get("authorization") != "Bearer test-token":
            return Reply(401, {"result": "error", "message": "Unauthorized"})
        if request.path != "/services/mqtt":
            return Reply(404, {"result": "error", "message": "not found"})
        return reply

    return serving(handle)


def site_from(data: dict[str, Any]) -> Any:
    return parse_config({**normalize_options(data), "state_dir": "/tmp"}, environ={})


def test_broker_comes_from_the_supervisor_when_the_options_name_none(
    caplog: pytest.LogCaptureFixture,
) -> None:
    with supervisor(Reply(200, {"result": "ok", "data": BROKER})) as server:
        env = {"SUPERVISOR_TOKEN": "test-token", "SUPERVISOR_URL": server.url}
        with caplog.at_level(logging.INFO):
            site = apply_supervisor_services(site_from(options()), env)
    mqtt = site.mqtt
    assert (mqtt.host, mqtt.port, mqtt.username) == ("core-mosquitto", 1884, "addons")
    assert mqtt.password is not None and mqtt.password.get_secret_value() == "broker-secret"
    assert mqtt.tls is False and mqtt.protocol == "3.1.1"
    assert [r.path for r in server.requests] == ["/services/mqtt"]
    assert "core-mosquitto:1884" in caplog.text
    assert "broker-secret" not in caplog.text and "broker-secret" not in repr(site)


def test_a_broker_in_the_options_wins_and_the_supervisor_is_not_asked() -> None:
    data = options(mqtt={"enabled": True, "host": "emqx.local", "port": 1883})
    with supervisor(Reply(200, {"result": "ok", "data": BROKER})) as server:
        env = {"SUPERVISOR_TOKEN": "test-token", "SUPERVISOR_URL": server.url}
        site = apply_supervisor_services(site_from(data), env)
    assert site.mqtt.host == "emqx.local"
    assert server.requests == []


def test_no_mqtt_service_is_a_clear_warning_and_the_site_runs_without_mqtt(
    caplog: pytest.LogCaptureFixture,
) -> None:
    with supervisor(Reply(400, {"result": "error", "message": "Service not enabled"})) as server:
        env = {"SUPERVISOR_TOKEN": "test-token", "SUPERVISOR_URL": server.url}
        site = apply_supervisor_services(site_from(options()), env)
    assert site.mqtt.host is None
    warning = [r.getMessage() for r in caplog.records if r.levelno == logging.WARNING]
    assert len(warning) == 1
    assert "Service not enabled" in warning[0] and "Mosquitto" in warning[0]


def test_without_a_token_the_supervisor_is_not_called(caplog: pytest.LogCaptureFixture) -> None:
    site = apply_supervisor_services(site_from(options()), {})
    assert site.mqtt.host is None
    assert "SUPERVISOR_TOKEN is not set" in caplog.text


def test_unreachable_supervisor_is_a_warning(unused_tcp_port: int) -> None:
    env = {"SUPERVISOR_TOKEN": "t", "SUPERVISOR_URL": f"http://127.0.0.1:{unused_tcp_port}"}
    site = apply_supervisor_services(site_from(options()), env)
    assert site.mqtt.host is None


def test_mqtt_disabled_asks_nothing() -> None:
    data = options(mqtt={"enabled": False})
    with supervisor(Reply(200, {"result": "ok", "data": BROKER})) as server:
        env = {"SUPERVISOR_TOKEN": "test-token", "SUPERVISOR_URL": server.url}
        site = apply_supervisor_services(site_from(data), env)
    assert server.requests == [] and site.mqtt.host is None


def test_a_config_error_never_echoes_secrets(tmp_path: Path) -> None:
    data = options()
    data["miners"][0]["max_power_w"] = -5
    with pytest.raises(ConfigError) as error:
        load_addon_site(write_options(tmp_path, data), environ={})
    assert "hunter2-secret" not in str(error.value)
