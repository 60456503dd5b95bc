"""Home Assistant device-based MQTT discovery payloads (pure: no I/O).

One retained config message per device at ``<prefix>/device/<object_id>/config`` holding the
device (``dev``), the origin (``o``), the shared availability and state topic, and the device's
entities as components (``cmps``). See Home Assistant's MQTT docs, "Device discovery payload".

Stable identity: every id derives from the base topic (the bridge's namespace on the broker) and
the device path, never from anything that changes between runs. ``default_entity_id`` (the full
``platform.object`` id) replaces the deprecated ``object_id``.
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from edge_mining import __version__
from edge_mining.config import MinerConfig, SiteConfig
from edge_mining.model import MinerState
from edge_mining.mqtt.entities import (
    NUMBER,
    SELECT,
    SENSOR,
    SWITCH,
    EntitySpec,
    controller_entities,
    energy_entities,
    miner_entities,
    miner_levels,
)
from edge_mining.mqtt.topics import CONTROLLER, ENERGY, Topics, miner_device

ORIGIN = {
    "name": "Edge Mining",
    "sw": __version__,
    "url": "https://github.com/edge-mining",
}

PAYLOAD_ON = "ON"
PAYLOAD_OFF = "OFF"

_ENERGY_SOURCE_INFO = {
    "simulated": ("Edge Mining", "Simulated plant"),
    "voltronic": ("Voltronic Power", "PI30 inverter"),
    "solaredge": ("SolarEdge", "SunSpec inverter"),
    "homeassistant": ("Home Assistant", "Entities"),
    "mqtt": ("MQTT", "Topics"),
}


def node_id(topics: Topics) -> str:
    """The namespace of our ids: the base topic as ``[a-zA-Z0-9_]``."""
    return re.sub(r"[^A-Za-z0-9_]", "_", topics.base)


def object_id(topics: Topics, device: str) -> str:
    """Discovery object id of a device path (``controller``, ``energy``, ``miner/<name>``)."""
    return f"{node_id(topics)}_{device.replace('/', '_')}"


def entity_slug(text: str) -> str:
    """An entity id's object part: Home Assistant's entity ids are ``[a-z0-9_]``."""
    return re.sub(r"_+", "_", re.sub(r"[^a-z0-9_]", "_", text.lower())).strip("_")


@dataclass(frozen=True, slots=True)
class DeviceSpec:
    device: str  # the device path in our topics
    info: dict[str, Any]
    entities: tuple[EntitySpec, ...]


def controller_device(site: SiteConfig, topics: Topics) -> DeviceSpec:
    info = {
        "ids": [object_id(topics, CONTROLLER)],
        "name": site.name,
        "mf": "Edge Mining",
        "mdl": "Mining controller",
        "sw": __version__,
    }
    return DeviceSpec(CONTROLLER, info, controller_entities(site))


def energy_device(site: SiteConfig, topics: Topics) -> DeviceSpec:
    kind = site.energy_source.type
    manufacturer, model = _ENERGY_SOURCE_INFO.get(kind, (None, kind))
    info: dict[str, Any] = {
        "ids": [object_id(topics, ENERGY)],
        "name": f"{site.name} energy source",
        "mdl": model,
        "via_device": object_id(topics, CONTROLLER),
    }
    if manufacturer:
        info["mf"] = manufacturer
    return DeviceSpec(ENERGY, info, energy_entities(site))


def miner_device_spec(miner: MinerConfig, topics: Topics, state: MinerState | None) -> DeviceSpec:
    """A miner's device: its identity and constraints come from telemetry once it is known."""
    device = miner_device(miner.name)
    info: dict[str, Any] = {
        "ids": [object_id(topics, device)],
        "name": miner.name,
        "mdl": (state.model if state and state.model else f"{miner.driver} miner"),
        "via_device": object_id(topics, CONTROLLER),
    }
    if miner.driver == "simulated":
        info["mf"] = "Edge Mining (simulated)"
    if state and state.firmware:
        info["sw"] = state.firmware
    if state and state.serial:
        info["sn"] = state.serial
    target_min = state.target_min_w if state else None
    target_max = state.target_max_w if state else None
    levels = tuple(level.name for level in miner_levels(miner, state))
    return DeviceSpec(device, info, miner_entities(miner, target_min, target_max, levels))


def site_devices(
    site: SiteConfig, topics: Topics, miner_states: Mapping[str, MinerState | None]
) -> tuple[DeviceSpec, ...]:
    devices = [controller_device(site, topics), energy_device(site, topics)]
    for miner in site.miners:
        devices.append(miner_device_spec(miner, topics, miner_states.get(miner.name)))
    return tuple(devices)


def _component(
    spec: EntitySpec, device: str, topics: Topics, expire_after_s: int | None
) -> dict[str, Any]:
    uid = f"{object_id(topics, device)}_{spec.key}"
    component: dict[str, Any] = {
        "p": spec.platform,
        "unique_id": uid,
        "default_entity_id": f"{spec.platform}.{entity_slug(uid)}",
        "name": spec.name,
    }
    if spec.icon:
        component["icon"] = spec.icon
    if spec.device_class:
        component["device_class"] = spec.device_class
    if spec.entity_category:
        component["entity_category"] = spec.entity_category
    if spec.platform == SWITCH:
        component["value_template"] = (
            f"{{{{ '{PAYLOAD_ON}' if value_json.{spec.key} else '{PAYLOAD_OFF}' }}}}"
        )
        component["payload_on"] = PAYLOAD_ON
        component["payload_off"] = PAYLOAD_OFF
    else:
        component["value_template"] = f"{{{{ value_json.{spec.key} }}}}"
    if spec.commandable:
        component["command_topic"] = topics.command(device, spec.key)
    if spec.attributes:
        component["json_attributes_topic"] = topics.state(device)
        component["json_attributes_template"] = f"{{{{ value_json.{spec.attributes} | tojson }}}}"
    if spec.platform == SENSOR:
        if spec.state_class:
            component["state_class"] = spec.state_class
        if spec.unit:
            component["unit_of_measurement"] = spec.unit
        if spec.precision is not None:
            component["suggested_display_precision"] = spec.precision
        if spec.options is not None:
            component["options"] = list(spec.options)
        if spec.telemetry and expire_after_s:
            component["expire_after"] = expire_after_s
    if spec.platform == NUMBER:
        component["min"] = spec.minimum
        component["max"] = spec.maximum
        component["step"] = spec.step
        component["mode"] = "box"
        if spec.unit:
            component["unit_of_measurement"] = spec.unit
    if spec.platform == SELECT:
        component["options"] = list(spec.options or ())
    if spec.telemetry:
        # Stale or unreachable device data shows as unavailable, not as a frozen last value.
        component["availability"] = [
            {"topic": topics.availability},
            {"topic": topics.device_availability(device)},
        ]
        component["availability_mode"] = "all"
    return component


def device_payload(
    spec: DeviceSpec, topics: Topics, expire_after_s: int | None = None
) -> dict[str, Any]:
    return {
        "dev": spec.info,
        "o": ORIGIN,
        "availability": [{"topic": topics.availability}],
        "state_topic": topics.state(spec.device),
        "qos": 1,
        "cmps": {
            entity.key: _component(entity, spec.device, topics, expire_after_s)
            for entity in spec.entities
        },
    }


def discovery_messages(
    site: SiteConfig,
    topics: Topics,
    miner_states: Mapping[str, MinerState | None],
    expire_after_s: int | None = None,
) -> dict[str, str]:
    """Discovery topic -> JSON payload, for every device of the site (deterministic text)."""
    return {
        topics.discovery(object_id(topics, spec.device)): encode(
            device_payload(spec, topics, expire_after_s)
        )
        for spec in site_devices(site, topics, miner_states)
    }


def encode(payload: Mapping[str, Any]) -> str:
    return json.dumps(payload, separators=(",", ":"), ensure_ascii=False)
