"""Room temperatures per heating zone from Home Assistant (loopback API) and MQTT (Mosquitto)."""

from __future__ import annotations

import asyncio
import json
import logging
import time

import pytest
from conftest import make_site

from edge_mining.config import (
    HeatingConfig,
    HeatingZone,
    HomeAssistantConfig,
    MinerConfig,
    MqttConfig,
    SiteConfig,
)
from edge_mining.devices.base import TemperatureSource
from edge_mining.devices.temperature import RoomTemperatures, room_temperatures
from tests.ha_server import running_home_assistant
from tests.mqtt_broker import Recorder, mosquitto, unique_namespace

__all__ = ["mosquitto"]  # fixture

TOKEN = "temp-token-123456"


def site(
    zones: list[HeatingZone],
    *,
    ha_url: str = "http://127.0.0.1:9",
    broker=None,
    enabled: bool = True,
) -> SiteConfig:
    return SiteConfig(
        miners=[
            MinerConfig(
                name=name,
                min_power_w=500,
                max_power_w=1400,
                nominal_power_w=1350,
                nominal_hashrate_ths=13.5,
            )
            for name in ("s9", "s19")
        ],
        heating=HeatingConfig(enabled=enabled, zones=zones),
        homeassistant=HomeAssistantConfig(url=ha_url, token=TOKEN),
        mqtt=MqttConfig(host=broker.host, port=broker.port) if broker else MqttConfig(),
    )


async def test_zones_from_home_assistant_with_units_and_a_failing_zone(caplog):
    caplog.set_level(logging.WARNING, logger="edge_mining")
    zones = [
        HeatingZone(name="office", temperature_entity="sensor.office_temperature", miners=["s9"]),
        HeatingZone(name="garage", temperature_entity="sensor.garage_temperature", miners=["s19"]),
        HeatingZone(name="attic", temperature_entity="sensor.attic_temperature", miners=["s19"]),
    ]
    with running_home_assistant(token=TOKEN) as ha:
        ha.set("sensor.office_temperature", "20.6", "°C", device_class="temperature")
        ha.set("sensor.garage_temperature", "59", "°F", device_class="temperature")
        ha.set("sensor.attic_temperature", "unavailable", "°C")
        temps = room_temperatures(site(zones, ha_url=ha.url))
        assert temps is not None
        assert all(isinstance(s, TemperatureSource) for s in temps.sources.values())
        readings = [await temps.read_all() for _ in range(3)]
        ha.set("sensor.attic_temperature", "250", "°C")  # broken probe
        broken = await temps.read_all()
        ha.set("sensor.attic_temperature", "14.5", "°C")
        healed = await temps.read_all()
        await temps.close()
    assert readings[0] == {"office": 20.6, "garage": pytest.approx(15.0)}
    assert readings[0] == readings[2]
    assert "attic" not in broken
    assert healed["attic"] == 14.5
    warnings = [r.getMessage() for r in caplog.records]
    assert warnings == [
        "room temperatures: sensor.attic_temperature is unavailable",
        "room temperatures: zone attic: 250.0 °C is not a plausible room temperature",
    ]


def test_no_readers_without_heating_or_thermometers():
    zone = HeatingZone(name="office", temperature_entity="sensor.t", miners=["s9"])
    assert room_temperatures(site([zone], enabled=False)) is None
    assert room_temperatures(site([HeatingZone(name="office", miners=["s9"])])) is None


async def test_zone_from_zigbee2mqtt_and_plain_topics(mosquitto):
    base, _ = unique_namespace("temp")
    zones = [
        HeatingZone(
            name="office",
            temperature_topic=f"{base}/zigbee2mqtt/office_sensor",
            temperature_json_path="temperature",
            miners=["s9"],
        ),
        HeatingZone(
            name="shed", temperature_topic=f"{base}/shellies/ht/sensor/temperature", miners=["s19"]
        ),
    ]
    temps = RoomTemperatures(site(zones, broker=mosquitto))
    assert await temps.read_all() == {}
    async with Recorder(mosquitto, f"{base}/none") as publisher:
        await publisher.publish(
            f"{base}/zigbee2mqtt/office_sensor",
            json.dumps({"battery": 97, "humidity": 48.2, "linkquality": 120, "temperature": 19.4}),
            # Retained, as the devices do: the reader may subscribe after the publish.
            retain=True,
        )
        await publisher.publish(f"{base}/shellies/ht/sensor/temperature", "8.25", retain=True)
        deadline = time.monotonic() + 5
        found: dict[str, float] = {}
        while len(found) < 2 and time.monotonic() < deadline:
            await asyncio.sleep(0.02)
            found = await temps.read_all()
    await temps.close()
    assert found == {"office": 19.4, "shed": 8.25}


async def test_daemon_puts_room_temperatures_into_the_snapshot(tmp_path):
    from edge_mining.clock import ManualClock
    from edge_mining.control import Controller
    from edge_mining.devices.factory import build_devices
    from edge_mining.service import Daemon

    class RecordingController(Controller):
        def __init__(self, *args, **kwargs) -> None:
            super().__init__(*args, **kwargs)
            self.snapshots = []

        def tick(self, snapshot):
            self.snapshots.append(snapshot)
            return super().tick(snapshot)

    with running_home_assistant(token=TOKEN) as ha:
        ha.set("sensor.office_temperature", "19.2", "°C")
        site_config = make_site(
            tmp_path,
            heating={
                "enabled": True,
                "zones": [
                    {
                        "name": "office",
                        "temperature_entity": "sensor.office_temperature",
                        "miners": ["m3k"],
                    }
                ],
            },
            homeassistant={"url": ha.url, "token": TOKEN},
        )
        clock = ManualClock(1_750_500_000.0)
        devices = build_devices(site_config, clock=clock)
        controller = RecordingController(
            site_config.control,
            site_config.miners,
            heating=site_config.heating,
            economics=site_config.economics,
        )
        temps = room_temperatures(site_config, clock=clock)
        daemon = Daemon(
            site_config,
            energy=devices.energy,
            miners=devices.miners,
            clock=clock,
            controller=controller,
            temperatures=temps,
        )
        stop = asyncio.Event()
        states = []

        def watch(state) -> None:
            states.append(state)
            if len(states) >= 3:
                stop.set()

        daemon.add_listener(watch)
        await asyncio.wait_for(daemon.run(stop), timeout=30)
        await temps.close()
        await devices.close()
    assert controller.snapshots[0].room_temperatures_c == {"office": 19.2}
    assert states[-1].room_temperatures_c == {"office": 19.2}
