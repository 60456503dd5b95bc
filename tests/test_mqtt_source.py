"""MqttEnergySource against the real Mosquitto broker."""

from __future__ import annotations

import asyncio
import json
import logging
import time

import pytest

from edge_mining.clock import ManualClock
from edge_mining.config import MqttConfig, MqttSourceConfig, TopicQuantity
from edge_mining.devices.base import DeviceUnavailable, EnergySource
from edge_mining.devices.mqtt.source import MqttEnergySource
from edge_mining.devices.payload import PayloadError, extract_number
from edge_mining.model import EnergyReading
from tests.mqtt_broker import Recorder, mosquitto, private_broker, unique_namespace

__all__ = ["mosquitto", "private_broker"]  # fixtures


def mqtt_config(broker) -> MqttConfig:
    return MqttConfig(host=broker.host, port=broker.port)


def source_config(base: str, **overrides) -> MqttSourceConfig:
    fields = {
        "type": "mqtt",
        # OpenDTU: plain number in W.
        "pv_power": TopicQuantity(topic=f"{base}/solar/ac/power"),
        # OpenDTU-like JSON with a list.
        "load_power": TopicQuantity(topic=f"{base}/load", json_path="inverters[0].power"),
        # Victron dbus-mqtt: {"value": ...}.
        "battery_soc": TopicQuantity(
            topic=f"{base}/N/c0619ab1/system/0/Dc/Battery/Soc", json_path="value"
        ),
        # Reported in kW, discharge positive: scaled and flipped to our convention.
        "battery_power": TopicQuantity(topic=f"{base}/bat/kw", scale=1000, invert=True),
        # Tasmota smart meter SENSOR telemetry.
        "grid_power": TopicQuantity(topic=f"{base}/tele/meter/SENSOR", json_path="ENERGY.Power"),
        **overrides,
    }
    return MqttSourceConfig(**fields)


async def publish_plant(recorder: Recorder, base: str) -> None:
    await recorder.publish(f"{base}/solar/ac/power", "1234.5")
    await recorder.publish(f"{base}/load", json.dumps({"inverters": [{"power": 640}]}))
    await recorder.publish(f"{base}/N/c0619ab1/system/0/Dc/Battery/Soc", '{"value": 76.5}')
    await recorder.publish(f"{base}/bat/kw", "1.2")
    await recorder.publish(
        f"{base}/tele/meter/SENSOR",
        json.dumps(
            {
                "Time": "2024-04-27T12:00:00",
                "ENERGY": {"Total": 1234.5, "Power": -310, "Voltage": 231},
            }
        ),
    )


async def read_until(source, predicate, timeout: float = 5.0) -> EnergyReading:
    deadline = time.monotonic() + timeout
    last: BaseException | EnergyReading | None = None
    while time.monotonic() < deadline:
        try:
            last = await source.read()
            if predicate(last):
                return last
        except DeviceUnavailable as error:
            last = error
        await asyncio.sleep(0.02)
    raise AssertionError(f"condition not met in {timeout}s; last: {last!r}")


def test_extract_number_paths():
    assert extract_number(b" 12.5 ", None) == 12.5
    assert extract_number(b'{"ENERGY": {"Power": 7}}', "ENERGY.Power") == 7.0
    assert extract_number(b'{"a": [{"b": "3.5"}]}', "a.0.b") == 3.5
    assert extract_number(b'{"a": [{"b": 1}, {"b": 2}]}', "a[1].b") == 2.0
    for payload, path in [
        (b"on", None),
        (b'{"ENERGY": {}}', "ENERGY.Power"),
        (b'{"x": true}', "x"),
        (b"\xff\xfe", None),
        (b"nan", None),
        (b"12", "value"),
    ]:
        with pytest.raises(PayloadError):
            extract_number(payload, path)


async def test_quantities_from_topics_json_paths_scale_and_sign(mosquitto):
    base, _ = unique_namespace("src")
    source = MqttEnergySource(source_config(base), mqtt_config(mosquitto))
    assert isinstance(source, EnergySource)
    with pytest.raises(DeviceUnavailable, match="no fresh values"):
        await source.read()
    assert await source.watcher.wait_connected(5)
    async with Recorder(mosquitto, f"{base}/unused") as recorder:
        await publish_plant(recorder, base)
        reading = await read_until(
            source,
            lambda r: (
                r.grid_power_w is not None
                and r.pv_power_w is not None
                and r.load_power_w is not None
                and r.battery_soc_pct is not None
                and r.battery_power_w is not None
            ),
        )
    await source.close()
    assert reading.pv_power_w == 1234.5
    assert reading.load_power_w == 640.0
    assert reading.battery_soc_pct == 76.5
    assert reading.battery_power_w == -1200.0
    assert reading.grid_power_w == -310.0
    assert source.payload_errors == 0


async def test_malformed_payload_counted_reported_once_and_last_value_kept(mosquitto, caplog):
    caplog.set_level(logging.INFO, logger="edge_mining")
    base, _ = unique_namespace("bad")
    source = MqttEnergySource(
        source_config(base, load_power=None, battery_soc=None, battery_power=None),
        mqtt_config(mosquitto),
    )
    assert await source.watcher.wait_connected(5)
    topic = f"{base}/tele/meter/SENSOR"
    async with Recorder(mosquitto, topic) as recorder:
        await recorder.publish(topic, '{"ENERGY": {"Power": 450}}')
        await read_until(source, lambda r: r.grid_power_w == 450.0)
        for payload in ("garbage", '{"ENERGY": {}}', "{broken json"):
            await recorder.publish(topic, payload)
        await recorder.wait_topic(topic, "{broken json")
        deadline = time.monotonic() + 5
        while source.payload_errors < 3 and time.monotonic() < deadline:
            await asyncio.sleep(0.02)
        kept = await source.read()
        await recorder.publish(topic, '{"ENERGY": {"Power": 500}}')
        await read_until(source, lambda r: r.grid_power_w == 500.0)
    await source.close()
    assert source.payload_errors == 3
    assert kept.grid_power_w == 450.0
    warnings = [r.getMessage() for r in caplog.records if r.levelno == logging.WARNING]
    assert len(warnings) == 1 and topic in warnings[0]
    assert any(f"recovered (malformed {topic})" in r.getMessage() for r in caplog.records)


async def test_values_older_than_max_age_are_dropped(mosquitto):
    base, _ = unique_namespace("stale")
    clock = ManualClock(1_000_000.0)
    source = MqttEnergySource(
        source_config(
            base,
            load_power=None,
            battery_soc=None,
            battery_power=None,
            grid_power=None,
            max_age_s=60,
        ),
        mqtt_config(mosquitto),
        clock=clock,
    )
    assert await source.watcher.wait_connected(5)
    async with Recorder(mosquitto, f"{base}/unused") as recorder:
        await recorder.publish(f"{base}/solar/ac/power", "800")
        reading = await read_until(source, lambda r: r.pv_power_w == 800.0)
    assert reading.timestamp == clock.now()
    clock.advance(61)
    with pytest.raises(DeviceUnavailable):
        await source.read()
    assert source.failures.failing == {f"stale {base}/solar/ac/power"}
    await source.close()


async def test_broker_down_then_up_is_survived(private_broker, caplog):
    caplog.set_level(logging.WARNING, logger="edge_mining")
    base, _ = unique_namespace("down")
    private_broker.stop()
    source = MqttEnergySource(
        source_config(base, load_power=None, battery_soc=None, battery_power=None, grid_power=None),
        mqtt_config(private_broker),
    )
    with pytest.raises(DeviceUnavailable, match="not connected"):
        await source.read()
    await asyncio.sleep(1.5)  # at least one reconnect attempt fails too
    private_broker.start()
    assert await source.watcher.wait_connected(10)
    async with Recorder(private_broker, f"{base}/unused") as recorder:
        await recorder.publish(f"{base}/solar/ac/power", "99")
        reading = await read_until(source, lambda r: r.pv_power_w == 99.0)
    await source.close()
    assert reading.pv_power_w == 99.0
    assert source.watcher.failures.counts["unreachable"] >= 2
    assert len([r for r in caplog.records if "broker" in r.getMessage()]) == 1


def test_wildcards_and_missing_host_are_config_errors(mosquitto):
    with pytest.raises(ValueError, match="wildcards"):
        MqttEnergySource(
            MqttSourceConfig(type="mqtt", pv_power=TopicQuantity(topic="solar/+/power")),
            mqtt_config(mosquitto),
        )
    with pytest.raises(ValueError, match="mqtt.host"):
        MqttEnergySource(
            MqttSourceConfig(type="mqtt", pv_power=TopicQuantity(topic="solar/power")),
            MqttConfig(),
        )


async def test_a_failing_message_handler_is_logged_once_and_the_watcher_goes_on(mosquitto, caplog):
    # A background task that dies must not go unnoticed: a bug in a driver's handler used to
    # end the watcher's task in silence (its readings then just went stale).
    from edge_mining.devices.mqtt.topics import TopicWatcher

    caplog.set_level(logging.INFO, logger="edge_mining")
    base, _ = unique_namespace("handler")
    handled: list[bytes] = []

    def handler(topic: str, payload: bytes, at: float) -> None:
        if payload.startswith(b"bad"):
            raise ZeroDivisionError("a driver bug")
        handled.append(payload)

    watcher = TopicWatcher(
        mqtt_config(mosquitto), [f"{base}/x"], purpose="handler test", on_message=handler
    )
    assert await watcher.wait_connected(10)
    try:
        async with Recorder(mosquitto, f"{base}/x") as recorder:
            for payload in ("bad 1", "bad 2", "good"):
                await recorder.publish(f"{base}/x", payload)
            deadline = time.monotonic() + 10
            while handled != [b"good"] and time.monotonic() < deadline:
                await asyncio.sleep(0.02)
        assert handled == [b"good"]
        assert watcher.connected and watcher.latest(f"{base}/x").payload == b"good"
    finally:
        await watcher.close()
    errors = [r for r in caplog.records if "not handled" in r.getMessage()]
    assert len(errors) == 1 and errors[0].exc_info is not None
    assert "ZeroDivisionError" in errors[0].getMessage()
