"""A miner with power levels on MQTT: a select of its levels instead of a power number."""

from __future__ import annotations

import json

import pytest

from edge_mining.config import SiteConfig
from edge_mining.model import MinerState, MinerStatus, PowerLevel
from edge_mining.mqtt.commands import CommandError, SetMinerPower, parse_command
from edge_mining.mqtt.discovery import device_payload, site_devices
from edge_mining.mqtt.state import discovery_key
from edge_mining.mqtt.topics import Topics

SITE = SiteConfig.model_validate(
    {
        "energy_source": {"type": "simulated"},
        "miners": [
            {
                "name": "heater",
                "min_power_w": 800,
                "max_power_w": 1674,
                "nominal_hashrate_ths": 90,
                "nominal_power_w": 1674,
                "levels": [
                    {"name": "eco", "power_w": 800, "hashrate_ths": 50},
                    {"name": "standard", "power_w": 1391, "hashrate_ths": 81},
                    {"name": "super", "power_w": 1674, "hashrate_ths": 90},
                ],
            },
            {
                "name": "avalon",
                "driver": "avalon",
                "host": "192.168.1.60",
                "min_power_w": 0,
                "max_power_w": 200,
                "nominal_hashrate_ths": 6,
                "nominal_power_w": 140,
            },
            {
                "name": "s19",
                "min_power_w": 1000,
                "max_power_w": 3000,
                "nominal_hashrate_ths": 100,
                "nominal_power_w": 3000,
            },
        ],
    }
)
REPORTED = (PowerLevel("low", 70, 3.5), PowerLevel("mid", 100, 4.6), PowerLevel("high", 140, 6))


def entities(states: dict) -> dict[str, dict]:
    """``<device>/<entity key>`` -> discovery component."""
    found = {}
    for spec in site_devices(SITE, Topics(), states):
        payload = device_payload(spec, Topics())
        for key, component in payload["cmps"].items():
            found[f"{spec.device}/{key}"] = component
    return found


def test_a_configured_level_miner_gets_a_select_of_its_levels():
    found = entities({})
    select = next(c for k, c in found.items() if "heater" in k and k.endswith("level"))
    assert select["p"] == "select"
    assert select["options"] == ["eco", "standard", "super"]
    assert not any("heater" in k and k.endswith("power_target") for k in found)
    assert any("s19" in k and k.endswith("power_target") for k in found)  # continuous: number


def test_levels_reported_by_the_driver_replace_the_number_once_known():
    before = entities({})
    assert any("avalon" in k and k.endswith("power_target") for k in before)
    state = MinerState("avalon", 0.0, MinerStatus.MINING, levels=REPORTED, level="mid")
    after = entities({"avalon": state})
    select = next(c for k, c in after.items() if "avalon" in k and k.endswith("level"))
    assert select["options"] == ["low", "mid", "high"]
    # The levels are part of what makes discovery be published again.
    assert discovery_key(SITE, {"avalon": state}) != discovery_key(SITE, {})


def test_a_level_command_becomes_the_levels_power():
    states = {"avalon": MinerState("avalon", 0.0, MinerStatus.MINING, levels=REPORTED)}

    def parse(device: str, payload: str):
        return parse_command(device, "level", payload, site=SITE, miner_states=states)

    assert parse("miner/heater", "standard") == SetMinerPower("heater", 1391)
    assert parse("miner/avalon", "low\n") == SetMinerPower("avalon", 70)
    with pytest.raises(CommandError, match="not one of heater's levels"):
        parse("miner/heater", "turbo")
    with pytest.raises(CommandError, match=r"levels \(none\)"):
        parse("miner/s19", "eco")
    json.dumps(entities({}))
