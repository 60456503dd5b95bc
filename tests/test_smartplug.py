"""SmartPlugMiner through a loopback Home Assistant API and through the real Mosquitto broker."""

from __future__ import annotations

import asyncio
import json
import logging
import time

import pytest

from edge_mining.clock import ManualClock
from edge_mining.config import HomeAssistantConfig, MinerConfig, MqttConfig, SiteConfig
from edge_mining.devices.base import CommandRejected, MinerDriver
from edge_mining.devices.factory import build_miners
from edge_mining.devices.smartplug.driver import SmartPlugMiner
from edge_mining.model import MinerStatus
from tests.ha_server import running_home_assistant
from tests.mqtt_broker import Recorder, mosquitto, unique_namespace

__all__ = ["mosquitto"]  # fixture

TOKEN = "plug-token-123456"
T0 = 1_714_000_000.0


def miner_config(**fields) -> MinerConfig:
    base = {
        "name": "s9",
        "driver": "smartplug",
        "min_power_w": 1300,
        "max_power_w": 1400,
        "nominal_power_w": 1350,
        "nominal_hashrate_ths": 13.5,
        "power_target": False,
        "plug_min_on_s": 900,
        "plug_cooldown_s": 600,
        "plug_warmup_s": 240,
    }
    return MinerConfig(**{**base, **fields})


def ha_site(ha, **fields) -> SiteConfig:
    """A site with one plug switched and metered through Home Assistant entities."""
    config = miner_config(
        switch_entity="switch.miner_plug", power_entity="sensor.miner_plug_power", **fields
    )
    return SiteConfig(
        miners=[config],
        homeassistant=HomeAssistantConfig(url=ha.url, token=TOKEN, timeout_s=0.5),
    )


def ha_plug(ha, clock: ManualClock, **fields) -> SmartPlugMiner:
    site = ha_site(ha, **fields)
    return SmartPlugMiner(site.miners[0], site, clock=clock)


async def test_full_cycle_through_home_assistant():
    clock = ManualClock(T0)
    with running_home_assistant(token=TOKEN) as ha:
        ha.set("switch.miner_plug", "off", friendly_name="Miner plug")
        ha.set("sensor.miner_plug_power", "0.4", "W", device_class="power")
        plug = ha_plug(ha, clock)
        assert isinstance(plug, MinerDriver)
        assert (await plug.read()).status is MinerStatus.PAUSED

        await plug.start()
        assert ha.service_calls[-1] == ("switch", "turn_on", {"entity_id": "switch.miner_plug"})
        ha.set("sensor.miner_plug_power", "38", "W")  # control board booting
        clock.advance(60)
        booting = await plug.read()
        assert booting.status is MinerStatus.STARTING
        assert booting.hashrate_ths == pytest.approx(13.5 * 38 / 1350)

        ha.set("sensor.miner_plug_power", "1.36", "kW")  # hashing
        clock.advance(60)
        mining = await plug.read()
        assert mining.status is MinerStatus.MINING
        assert mining.power_w == 1360.0
        assert mining.hashrate_ths == 13.5  # capped at nominal

        with pytest.raises(CommandRejected, match="minimum on time.*780 s left"):
            await plug.stop()
        assert ha.state("switch.miner_plug") == "on"
        clock.advance(780)
        await plug.stop()
        assert ha.state("switch.miner_plug") == "off"
        stopping = await plug.read()  # the meter has not caught up yet
        assert stopping.status is MinerStatus.STOPPING
        ha.set("sensor.miner_plug_power", "0", "W")
        assert (await plug.read()).status is MinerStatus.PAUSED

        clock.advance(300)
        with pytest.raises(CommandRejected, match="cooling down.*300 s left"):
            await plug.start()
        assert ha.state("switch.miner_plug") == "off"
        clock.advance(300)
        await plug.start()
        assert ha.state("switch.miner_plug") == "on"
        with pytest.raises(CommandRejected, match="on/off only"):
            await plug.set_power_target(1000)
        await plug.close()


async def test_no_mining_draw_after_warmup_is_an_error():
    clock = ManualClock(T0)
    with running_home_assistant(token=TOKEN) as ha:
        ha.set("switch.miner_plug", "off")
        ha.set("sensor.miner_plug_power", "0", "W")
        plug = ha_plug(ha, clock)
        await plug.read()
        await plug.start()
        ha.set("sensor.miner_plug_power", "12", "W")
        clock.advance(239)
        assert (await plug.read()).status is MinerStatus.STARTING
        clock.advance(2)
        state = await plug.read()
        await plug.close()
    assert state.status is MinerStatus.ERROR
    assert any("no mining draw" in e for e in state.errors)


async def test_a_factory_built_plug_holds_its_minimum_on_time_on_the_injected_clock():
    clock = ManualClock(T0)
    with running_home_assistant(token=TOKEN) as ha:
        ha.set("switch.miner_plug", "off")
        ha.set("sensor.miner_plug_power", "0", "W")
        plug = build_miners(ha_site(ha), clock=clock)["s9"]
        await plug.read()
        await plug.start()
        clock.advance(899)  # the plug's 900 s minimum on time, in the injected clock's time
        with pytest.raises(CommandRejected, match="minimum on time.*1 s left"):
            await plug.stop()
        clock.advance(1)
        await plug.stop()
        assert ha.state("switch.miner_plug") == "off"
        await plug.close()


async def test_plug_cut_by_someone_else_still_gets_its_cooldown():
    clock = ManualClock(T0)
    with running_home_assistant(token=TOKEN) as ha:
        ha.set("switch.miner_plug", "on")
        ha.set("sensor.miner_plug_power", "1350", "W")
        plug = ha_plug(ha, clock)
        # Found on and mining after a restart: a stop is not held back by an unseen start.
        assert (await plug.read()).status is MinerStatus.MINING
        ha.set("switch.miner_plug", "off")  # the HA UI, or the plug's button
        ha.set("sensor.miner_plug_power", "0", "W")
        clock.advance(10)
        assert (await plug.read()).status is MinerStatus.PAUSED
        clock.advance(100)
        with pytest.raises(CommandRejected, match="cooling down.*500 s left"):
            await plug.start()
        await plug.close()


async def test_found_on_after_restart_can_be_stopped_at_once():
    clock = ManualClock(T0)
    with running_home_assistant(token=TOKEN) as ha:
        ha.set("switch.miner_plug", "on")
        ha.set("sensor.miner_plug_power", "1350", "W")
        plug = ha_plug(ha, clock)
        await plug.read()
        await plug.stop()
        await plug.close()
    assert ha.state("switch.miner_plug") == "off"


async def test_unavailable_plug_and_unreachable_home_assistant_are_unreachable(caplog):
    caplog.set_level(logging.WARNING, logger="edge_mining")
    clock = ManualClock(T0)
    with running_home_assistant(token=TOKEN) as ha:
        ha.set("switch.miner_plug", "unavailable")
        ha.set("sensor.miner_plug_power", "unavailable", "W")
        plug = ha_plug(ha, clock)
        for _ in range(3):
            state = await plug.read()
            assert state.status is MinerStatus.UNREACHABLE
        await plug.close()
        url = ha.url
    assert len([r for r in caplog.records if "relay state is unknown" in r.getMessage()]) == 1
    site = SiteConfig(
        miners=[miner_config(switch_entity="switch.miner_plug")],
        homeassistant=HomeAssistantConfig(url=url, token=TOKEN),
    )
    gone = SmartPlugMiner(site.miners[0], site, clock=clock)
    state = await gone.read()
    await gone.close()
    assert state.status is MinerStatus.UNREACHABLE
    assert "cannot reach" in state.errors[0]


# ------------------------------------------------------------------------------ over MQTT


async def wait_status(plug, status: MinerStatus, timeout: float = 5.0):
    deadline = time.monotonic() + timeout
    state = await plug.read()
    while state.status is not status and time.monotonic() < deadline:
        await asyncio.sleep(0.02)
        state = await plug.read()
    assert state.status is status, state
    return state


async def test_tasmota_plug_over_mqtt(mosquitto):
    base, _ = unique_namespace("plug")
    clock = ManualClock(T0)
    config = miner_config(
        command_topic=f"{base}/cmnd/plug/POWER",
        state_topic=f"{base}/stat/plug/POWER",
        power_topic=f"{base}/tele/plug/SENSOR",
        power_json_path="ENERGY.Power",
    )
    site = SiteConfig(miners=[config], mqtt=MqttConfig(host=mosquitto.host, port=mosquitto.port))
    plug = SmartPlugMiner(config, site, clock=clock)

    def sensor(watts: float) -> str:
        return json.dumps({"Time": "2024-04-27T12:00:00", "ENERGY": {"Power": watts}})

    async with Recorder(mosquitto, f"{base}/cmnd/#") as tasmota:
        await tasmota.publish(f"{base}/stat/plug/POWER", "OFF", retain=True)
        await wait_status(plug, MinerStatus.PAUSED)
        await plug.start()
        await tasmota.wait_topic(f"{base}/cmnd/plug/POWER", "ON")
        await tasmota.publish(f"{base}/stat/plug/POWER", "ON")
        await tasmota.publish(f"{base}/tele/plug/SENSOR", sensor(45))
        await wait_status(plug, MinerStatus.STARTING)
        await tasmota.publish(f"{base}/tele/plug/SENSOR", sensor(1340))
        mining = await wait_status(plug, MinerStatus.MINING)
        assert mining.power_w == 1340
        clock.advance(900)
        await plug.stop()
        await tasmota.wait_topic(f"{base}/cmnd/plug/POWER", "OFF")
        await tasmota.publish(f"{base}/stat/plug/POWER", "OFF")
        await tasmota.publish(f"{base}/tele/plug/SENSOR", sensor(0))
        await wait_status(plug, MinerStatus.PAUSED)
        with pytest.raises(CommandRejected, match="cooling down"):
            await plug.start()
        # A broken telemetry payload is survived: power unknown, relay still known.
        await tasmota.publish(f"{base}/tele/plug/SENSOR", "{not json")
        await asyncio.sleep(0.2)
        assert (await plug.read()).status is MinerStatus.PAUSED
        assert "power malformed" in plug.failures.failing
    await plug.close()


async def test_shelly_style_plug_without_state_topic(mosquitto):
    base, _ = unique_namespace("shelly")
    clock = ManualClock(T0)
    config = miner_config(
        command_topic=f"{base}/shellies/plug/relay/0/command",
        power_topic=f"{base}/shellies/plug/relay/0/power",
        payload_on="on",
        payload_off="off",
    )
    site = SiteConfig(miners=[config], mqtt=MqttConfig(host=mosquitto.host, port=mosquitto.port))
    plug = SmartPlugMiner(config, site, clock=clock)
    async with Recorder(mosquitto, f"{base}/shellies/plug/relay/0/command") as shelly:
        await plug.start()
        await shelly.wait_topic(f"{base}/shellies/plug/relay/0/command", "on")
        await shelly.publish(f"{base}/shellies/plug/relay/0/power", "1302.5")
        state = await wait_status(plug, MinerStatus.MINING)
    await plug.close()
    assert state.power_w == 1302.5
