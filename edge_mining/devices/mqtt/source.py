"""Generic MQTT energy source: each quantity from a topic, optionally a JSON path in it.

For devices that publish to MQTT themselves: OpenDTU (``solar/ac/power``), Shelly
(``shellies/em/emeter/0/power``), Tasmota (``tele/meter/SENSOR`` with ``ENERGY.Power``),
Victron dbus-mqtt (``N/<id>/system/0/Dc/Battery/Soc`` with ``value``), and so on.

Payloads are parsed as they arrive: a malformed one is counted and reported once per topic
and kind, and the quantity keeps its last good value until that is older than
``max_age_s``. ``read()`` returns what is fresh; it raises DeviceUnavailable only when no
quantity has a fresh value.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass

from edge_mining.clock import Clock, WallClock
from edge_mining.config import MqttConfig, MqttSourceConfig, TopicQuantity
from edge_mining.devices.base import DeviceUnavailable
from edge_mining.devices.failures import FailureReporter
from edge_mining.devices.mqtt.topics import TopicWatcher
from edge_mining.devices.payload import PayloadError, extract_number
from edge_mining.model import EnergyReading

log = logging.getLogger(__name__)

_FIELDS = {
    "pv_power": "pv_power_w",
    "load_power": "load_power_w",
    "battery_soc": "battery_soc_pct",
    "battery_power": "battery_power_w",
    "grid_power": "grid_power_w",
}


@dataclass(frozen=True, slots=True)
class _Value:
    value: float
    received_at: float


class MqttEnergySource:
    """EnergySource from MQTT topics (``energy_source.type: mqtt``)."""

    def __init__(
        self, config: MqttSourceConfig, mqtt: MqttConfig, *, clock: Clock | None = None
    ) -> None:
        self.name = "mqtt"
        self._quantities: dict[str, TopicQuantity] = {
            field: quantity
            for name, field in _FIELDS.items()
            if (quantity := getattr(config, name)) is not None
        }
        if not self._quantities:
            raise ValueError("the mqtt energy source names no topic")
        for quantity in self._quantities.values():
            if "+" in quantity.topic or "#" in quantity.topic:
                raise ValueError(f"topic {quantity.topic!r}: wildcards are not allowed here")
        self._max_age_s = config.max_age_s
        self._clock = clock or WallClock()
        self._values: dict[str, _Value] = {}
        self.failures = FailureReporter("MQTT energy source", log)
        self.payload_errors = 0
        self.watcher = TopicWatcher(
            mqtt,
            (q.topic for q in self._quantities.values()),
            purpose="energy",
            on_message=self._on_message,
            clock=self._clock,
        )

    def _on_message(self, topic: str, payload: bytes, received_at: float) -> None:
        for field, quantity in self._quantities.items():
            if quantity.topic != topic:
                continue
            try:
                value = extract_number(payload, quantity.json_path) * quantity.scale
            except PayloadError as error:
                self.payload_errors += 1
                self.failures.report(f"malformed {topic}", f"{topic}: {error}")
                continue
            self.failures.recovered(f"malformed {topic}")
            self._values[field] = _Value(-value if quantity.invert else value, received_at)

    async def read(self) -> EnergyReading:
        self.watcher.start()
        now = self._clock.now()
        fresh: dict[str, float] = {}
        newest: float | None = None
        for field, quantity in self._quantities.items():
            known = self._values.get(field)
            if known is None:
                continue
            if now - known.received_at > self._max_age_s:
                self.failures.report(
                    f"stale {quantity.topic}",
                    f"{quantity.topic}: nothing new for over {self._max_age_s:g} s",
                )
                continue
            self.failures.recovered(f"stale {quantity.topic}")
            fresh[field] = known.value
            newest = known.received_at if newest is None else max(newest, known.received_at)
        if newest is None:
            state = "connected" if self.watcher.connected else "not connected"
            raise DeviceUnavailable(f"MQTT energy source: no fresh values yet (broker {state})")
        return EnergyReading(timestamp=newest, **fresh)

    async def close(self) -> None:
        await self.watcher.close()
