"""Discovery payloads: golden files, and every entity checked against Home Assistant's tables.

Regenerate the golden files after an intended change with
``EDGE_MINING_UPDATE_GOLDEN=1 python3 -m pytest tests/test_mqtt_discovery.py`` and review the
diff.
"""

from __future__ import annotations

import json
import os
import re
from pathlib import Path

import pytest

from edge_mining.config import SiteConfig
from edge_mining.model import MinerState, MinerStatus
from edge_mining.mqtt.discovery import (
    ORIGIN,
    device_payload,
    discovery_messages,
    site_devices,
)
from edge_mining.mqtt.topics import Topics

GOLDEN = Path(__file__).parent / "golden"

# ---------------------------------------------------------------------------------------------
# Home Assistant's accepted combinations, for the device classes we use. Source:
# homeassistant/components/sensor/const.py (DEVICE_CLASS_UNITS, DEVICE_CLASS_STATE_CLASSES) and
# homeassistant/components/number/const.py; https://developers.home-assistant.io/docs/core/entity/sensor
SENSOR_UNITS: dict[str, set[str | None]] = {
    "power": {"W", "kW", "MW", "GW", "TW"},
    "energy": {"J", "kJ", "MJ", "GJ", "mWh", "Wh", "kWh", "MWh", "GWh", "TWh"}
    | {"cal", "kcal", "Mcal", "Gcal"},
    "battery": {"%"},
    "voltage": {"µV", "mV", "V", "kV", "MV"},
    "frequency": {"Hz", "kHz", "MHz", "GHz"},
    "temperature": {"°C", "°F", "K"},
    "duration": {"d", "h", "min", "s", "ms"},
    "enum": {None},
}
SENSOR_STATE_CLASSES: dict[str, set[str | None]] = {
    "power": {"measurement"},
    "energy": {"total", "total_increasing"},
    "battery": {"measurement"},
    "voltage": {"measurement"},
    "frequency": {"measurement"},
    "temperature": {"measurement"},
    "duration": {"measurement", "total", "total_increasing"},
    "monetary": {"total"},
    "enum": set(),
}
NUMBER_UNITS: dict[str, set[str | None]] = {
    "power": {"W", "kW", "MW", "GW", "TW"},
    "duration": {"d", "h", "min", "s", "ms"},
}
# Entity categories: sensors may only be diagnostic; "config" is for entities that configure.
ALLOWED_CATEGORIES = {
    "sensor": {None, "diagnostic"},
    "switch": {None, "config", "diagnostic"},
    "number": {None, "config", "diagnostic"},
    "select": {None, "config", "diagnostic"},
}
ISO_4217 = re.compile(r"^[A-Z]{3}$")


def _site(**mqtt: object) -> SiteConfig:
    return SiteConfig.model_validate(
        {
            "name": "Edge Mining",
            "energy_source": {"type": "voltronic", "device": "/dev/ttyUSB0", "dual_mppt": True},
            "miners": [
                {
                    "name": "s19",
                    "driver": "braiins",
                    "host": "192.0.2.10",
                    "min_power_w": 1000,
                    "max_power_w": 3250,
                    "nominal_hashrate_ths": 104,
                    "nominal_power_w": 3068,
                },
                {
                    "name": "Garage-Plug",
                    "driver": "smartplug",
                    "switch_entity": "switch.garage_plug",
                    "power_target": False,
                    "min_power_w": 1300,
                    "max_power_w": 1500,
                    "nominal_hashrate_ths": 14,
                    "nominal_power_w": 1400,
                },
            ],
            "mqtt": {"host": "127.0.0.1", **mqtt},
        }
    )


MINER_STATES = {
    "s19": MinerState(
        name="s19",
        timestamp=0.0,
        status=MinerStatus.MINING,
        target_min_w=1200,
        target_max_w=4000,  # wider than configured: the configured max must win
        model="Antminer S19j Pro",
        firmware="Braiins OS 24.03",
        serial="JYZZ1234",
    ),
    "Garage-Plug": None,
}


def _payloads(site: SiteConfig | None = None) -> dict[str, dict]:
    site = site or _site()
    topics = Topics(site.mqtt.base_topic, site.mqtt.discovery_prefix)
    return {
        topic: json.loads(text)
        for topic, text in discovery_messages(site, topics, MINER_STATES, 60).items()
    }


def _components():
    for topic, payload in _payloads().items():
        for key, component in payload["cmps"].items():
            yield topic, key, component


def test_one_retained_device_config_per_device():
    payloads = _payloads()
    assert sorted(payloads) == [
        "homeassistant/device/edge_mining_controller/config",
        "homeassistant/device/edge_mining_energy/config",
        "homeassistant/device/edge_mining_miner_Garage-Plug/config",
        "homeassistant/device/edge_mining_miner_s19/config",
    ]
    for payload in payloads.values():
        assert payload["o"] == ORIGIN
        assert payload["dev"]["ids"] and payload["dev"]["name"]
        assert payload["availability"] == [{"topic": "edge_mining/status"}]
        assert payload["cmps"]


@pytest.mark.parametrize(
    "name",
    ["controller", "energy", "miner_s19", "miner_Garage-Plug"],
)
def test_golden(name: str):
    payloads = _payloads()
    topic = f"homeassistant/device/edge_mining_{name}/config"
    text = json.dumps(payloads[topic], indent=2, sort_keys=True, ensure_ascii=False) + "\n"
    path = GOLDEN / f"mqtt_discovery_{name}.json"
    if os.environ.get("EDGE_MINING_UPDATE_GOLDEN"):
        path.write_text(text, encoding="utf-8")
    assert text == path.read_text(encoding="utf-8"), f"{path.name} differs (see module doc)"


def test_sensor_metadata_is_valid_for_home_assistant():
    checked = 0
    for _, key, c in _components():
        platform = c["p"]
        assert c.get("entity_category") in ALLOWED_CATEGORIES[platform], key
        if platform != "sensor":
            continue
        checked += 1
        device_class = c.get("device_class")
        unit = c.get("unit_of_measurement")
        state_class = c.get("state_class")
        if device_class is None:
            # A plain sensor: numeric (unit and measurement) or text (neither).
            assert (unit is None) == (state_class is None), key
            assert state_class in (None, "measurement"), key
            continue
        if device_class == "monetary":
            assert unit and ISO_4217.match(unit), key
        else:
            assert device_class in SENSOR_UNITS, f"{key}: add {device_class} to the tables"
            assert unit in SENSOR_UNITS[device_class], f"{key}: {device_class} with {unit}"
        assert state_class is None or state_class in SENSOR_STATE_CLASSES[device_class], key
        if device_class == "enum":
            assert c["options"] and state_class is None and unit is None, key
    assert checked >= 30


def test_numbers_and_selects_are_valid():
    for _, key, c in _components():
        if c["p"] == "number":
            assert c["min"] < c["max"] and c["step"] > 0, key
            if c.get("device_class"):
                assert c["unit_of_measurement"] in NUMBER_UNITS[c["device_class"]], key
        if c["p"] in ("number", "select", "switch"):
            assert c["command_topic"].endswith(f"/{key}/set"), key
        if c["p"] == "select":
            assert c["options"] and len(set(c["options"])) == len(c["options"]), key


def test_ids_are_stable_unique_and_use_default_entity_id():
    unique_ids = [c["unique_id"] for _, _, c in _components()]
    assert len(unique_ids) == len(set(unique_ids))
    for _, _key, c in _components():
        assert "object_id" not in c and "obj_id" not in c
        platform, _, object_part = c["default_entity_id"].partition(".")
        assert platform == c["p"]
        assert re.fullmatch(r"[a-z0-9_]+", object_part), c["default_entity_id"]
    # Same config, same ids: nothing depends on run-time randomness.
    assert _payloads() == _payloads()


def test_power_target_range_comes_from_the_miner_inside_configured_limits():
    payload = _payloads()["homeassistant/device/edge_mining_miner_s19/config"]
    number = payload["cmps"]["power_target"]
    assert (number["min"], number["max"]) == (1200, 3250)
    plug = _payloads()["homeassistant/device/edge_mining_miner_Garage-Plug/config"]
    assert "power_target" not in plug["cmps"]  # on/off only


def test_device_info_from_miner_telemetry():
    dev = _payloads()["homeassistant/device/edge_mining_miner_s19/config"]["dev"]
    assert dev["mdl"] == "Antminer S19j Pro"
    assert dev["sw"] == "Braiins OS 24.03"
    assert dev["sn"] == "JYZZ1234"
    assert dev["via_device"] == "edge_mining_controller"


def test_stale_data_shows_unavailable():
    energy = _payloads()["homeassistant/device/edge_mining_energy/config"]["cmps"]
    pv = energy["pv_power"]
    assert pv["expire_after"] == 60
    assert pv["availability_mode"] == "all"
    assert {"topic": "edge_mining/energy/availability"} in pv["availability"]
    # Counters keep their value when the source is stale: they are totals, not live readings.
    assert "expire_after" not in energy["pv_energy"]


def test_prefix_and_base_topic_are_configurable():
    site = _site(discovery_prefix="ha2", base_topic="site/roof")
    payloads = _payloads(site)
    assert "ha2/device/site_roof_controller/config" in payloads
    controller = payloads["ha2/device/site_roof_controller/config"]
    assert controller["state_topic"] == "site/roof/controller/state"
    assert controller["cmps"]["mode"]["command_topic"] == "site/roof/controller/mode/set"


def test_dual_pv_only_when_the_source_has_it():
    site = _site()
    energy = device_payload(site_devices(site, Topics(), {})[1], Topics())
    assert "pv2_power" in energy["cmps"]
    single = SiteConfig.model_validate(
        {**site.model_dump(), "energy_source": {"type": "simulated"}}
    )
    energy = device_payload(site_devices(single, Topics(), {})[1], Topics())
    assert "pv2_power" not in energy["cmps"]
