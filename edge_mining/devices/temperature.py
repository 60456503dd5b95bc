"""Room temperature of each heating zone, from a Home Assistant entity or an MQTT topic.

``HeatingZone.temperature_entity`` (a sensor in °C, °F or K) or ``temperature_topic`` (a plain
number, or a JSON payload with ``temperature_json_path``, e.g. zigbee2mqtt's
``temperature``). :class:`RoomTemperatures` builds one reader per zone that has either,
sharing one Home Assistant client and one MQTT connection, and reads them all for the daemon;
a failing zone is reported once per kind and left out, so the controller falls back to its
configured behaviour for that zone.
"""

from __future__ import annotations

import asyncio
import logging

from edge_mining.clock import Clock, WallClock
from edge_mining.config import HeatingZone, SiteConfig
from edge_mining.devices.base import DeviceError, DeviceUnavailable, TemperatureSource
from edge_mining.devices.failures import FailureReporter
from edge_mining.devices.homeassistant.client import (
    HomeAssistantClient,
    MalformedReply,
    failure_kind,
)
from edge_mining.devices.mqtt.topics import TopicWatcher
from edge_mining.devices.payload import PayloadError, extract_number

log = logging.getLogger(__name__)

# A thermometer that has not published for this long is not trusted.
MQTT_MAX_AGE_S = 900.0
# Plausible room temperatures; anything else is a broken sensor, not a cold room.
PLAUSIBLE_C = (-30.0, 60.0)


def _celsius(value: float, unit: str | None) -> float:
    match unit:
        case None | "°C" | "C" | "℃":
            return value
        case "°F" | "F" | "℉":
            return (value - 32.0) * 5.0 / 9.0
        case "K":
            return value - 273.15
    raise MalformedReply(f"unit {unit!r} is not a temperature unit")


def _plausible(zone: str, celsius: float) -> float:
    low, high = PLAUSIBLE_C
    if not low <= celsius <= high:
        raise MalformedReply(f"zone {zone}: {celsius:.1f} °C is not a plausible room temperature")
    return celsius


class HomeAssistantTemperature:
    """TemperatureSource from a Home Assistant sensor entity."""

    def __init__(self, zone: HeatingZone, client: HomeAssistantClient) -> None:
        if not zone.temperature_entity:
            raise ValueError(f"heating zone {zone.name!r} has no temperature_entity")
        self.name = zone.name
        self.entity_id = zone.temperature_entity
        self._client = client

    async def read_celsius(self) -> float:
        state = await self._client.get_state(self.entity_id)
        return _plausible(self.name, _celsius(state.number(), state.unit))


class MqttTemperature:
    """TemperatureSource from an MQTT topic (followed by a shared TopicWatcher)."""

    def __init__(
        self, zone: HeatingZone, watcher: TopicWatcher, *, clock: Clock | None = None
    ) -> None:
        if not zone.temperature_topic:
            raise ValueError(f"heating zone {zone.name!r} has no temperature_topic")
        self.name = zone.name
        self.topic = zone.temperature_topic
        self.json_path = zone.temperature_json_path
        self._watcher = watcher
        self._clock = clock or WallClock()

    async def read_celsius(self) -> float:
        self._watcher.start()
        latest = self._watcher.latest(self.topic)
        if latest is None:
            raise DeviceUnavailable(f"zone {self.name}: nothing received on {self.topic} yet")
        if self._clock.now() - latest.received_at > MQTT_MAX_AGE_S:
            raise DeviceUnavailable(f"zone {self.name}: {self.topic} silent for too long")
        try:
            value = extract_number(latest.payload, self.json_path)
        except PayloadError as error:
            raise MalformedReply(f"zone {self.name}: {self.topic}: {error}") from None
        return _plausible(self.name, value)


class RoomTemperatures:
    """The site's zone thermometers, read together."""

    def __init__(
        self,
        site: SiteConfig,
        *,
        clock: Clock | None = None,
        ha_client: HomeAssistantClient | None = None,
    ) -> None:
        clock = clock or WallClock()
        zones = [z for z in site.heating.zones if z.temperature_entity or z.temperature_topic]
        needs_ha = any(z.temperature_entity for z in zones)
        self._owns_client = ha_client is None and needs_ha
        self._ha = ha_client or (HomeAssistantClient(site.homeassistant) if needs_ha else None)
        # A zone naming both reads the entity.
        topics = [z.temperature_topic for z in zones if not z.temperature_entity]
        self._watcher = (
            TopicWatcher(site.mqtt, [t for t in topics if t], purpose="temperatures", clock=clock)
            if topics
            else None
        )
        self.sources: dict[str, TemperatureSource] = {}
        for zone in zones:
            if zone.temperature_entity:
                assert self._ha is not None
                self.sources[zone.name] = HomeAssistantTemperature(zone, self._ha)
            else:
                assert self._watcher is not None
                self.sources[zone.name] = MqttTemperature(zone, self._watcher, clock=clock)
        self.failures = FailureReporter("room temperatures", log)

    async def read_all(self) -> dict[str, float]:
        """Temperature per zone, for the zones that could be read."""
        names = list(self.sources)
        results = await asyncio.gather(
            *(self.sources[n].read_celsius() for n in names), return_exceptions=True
        )
        out: dict[str, float] = {}
        for name, result in zip(names, results, strict=True):
            if isinstance(result, DeviceError):
                self.failures.report(f"{failure_kind(result)} {name}", str(result))
            elif isinstance(result, BaseException):
                raise result
            else:
                for kind in self.failures.failing:
                    if kind.endswith(f" {name}"):
                        self.failures.recovered(kind)
                out[name] = result
        return out

    async def close(self) -> None:
        if self._watcher is not None:
            await self._watcher.close()
        if self._ha is not None and self._owns_client:
            await self._ha.close()


def room_temperatures(site: SiteConfig, *, clock: Clock | None = None) -> RoomTemperatures | None:
    """The readers for a site with heating zones that name a thermometer, else None."""
    if not site.heating.enabled:
        return None
    if not any(z.temperature_entity or z.temperature_topic for z in site.heating.zones):
        return None
    return RoomTemperatures(site, clock=clock)
