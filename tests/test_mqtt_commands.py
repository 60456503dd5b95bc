"""Commands: pure validation, a round trip through a real broker to simulated miners, and a
hypothesis fuzz of every command topic."""

from __future__ import annotations

import asyncio
import logging
import math
import re
import threading
import time

import aiomqtt
import paho.mqtt.client as paho
import pytest
from conftest import MINER_3KW
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from edge_mining.config import SiteConfig
from edge_mining.model import MinerState, MinerStatus, Mode
from edge_mining.mqtt.commands import (
    CommandError,
    HoldMiner,
    ReleaseMiner,
    SetControl,
    SetMinerPower,
    SetMinerRunning,
    SetMode,
    parse_command,
)
from edge_mining.mqtt.topics import Topics
from tests.mqtt_broker import Recorder, mosquitto, unique_namespace
from tests.mqtt_site import running_site, site_config

__all__ = ["mosquitto"]

SITE = SiteConfig.model_validate(
    {
        "miners": [
            {**MINER_3KW, "name": "alpha", "min_power_w": 800},
            {
                "name": "plug",
                "driver": "smartplug",
                "switch_entity": "switch.plug",
                "power_target": False,
                "min_power_w": 1300,
                "max_power_w": 1400,
                "nominal_hashrate_ths": 14,
                "nominal_power_w": 1400,
            },
        ]
    }
)
STATES = {"alpha": MinerState("alpha", 0.0, MinerStatus.MINING, target_min_w=1000)}


def parse(device: str, key: str, payload: bytes | str):
    return parse_command(device, key, payload, site=SITE, miner_states=STATES)


@pytest.mark.parametrize(
    ("device", "key", "payload", "expected"),
    [
        ("controller", "mode", "auto", SetMode(Mode.AUTO)),
        ("controller", "mode", " OFF\n", SetMode(Mode.OFF)),
        ("controller", "start_soc_pct", "85", SetControl("start_soc_pct", 85.0)),
        ("controller", "min_on_s", "1.2e3", SetControl("min_on_s", 1200.0)),
        ("miner/alpha", "mining", "ON", SetMinerRunning("alpha", True)),
        ("miner/alpha", "mining", "off", SetMinerRunning("alpha", False)),
        ("miner/plug", "mining", b"ON", SetMinerRunning("plug", True)),
        ("miner/alpha", "power_target", "1500", SetMinerPower("alpha", 1500.0)),
        ("miner/alpha", "control", "auto", ReleaseMiner("alpha")),
        ("miner/alpha", "control", "manual", HoldMiner("alpha")),
    ],
)
def test_valid_commands(device, key, payload, expected):
    assert parse(device, key, payload) == expected


@pytest.mark.parametrize("payload", ["-0", "-0.0", "+0", "-0e5", "-.0"])
def test_minus_zero_is_zero(payload):
    # "stop SoC -0 %" was shown in Home Assistant and the log.
    request = parse("controller", "stop_soc_pct", payload)
    assert request == SetControl("stop_soc_pct", 0.0)
    assert math.copysign(1.0, request.value) == 1.0


@pytest.mark.parametrize(
    ("device", "key", "payload", "reason"),
    [
        ("controller", "mode", "turbo", "is not one of"),
        ("controller", "start_soc_pct", "101", "outside 0..100"),
        ("controller", "start_soc_pct", "nan", "not a finite number"),
        ("controller", "tick_s", "5", "unknown controller command"),
        ("miner/alpha", "power_target", "900", "outside 1000..3000"),  # miner's own minimum
        ("miner/alpha", "power_target", "3001", "outside 1000..3000"),  # configured maximum
        ("miner/alpha", "power_target", "inf", "not a finite number"),
        ("miner/alpha", "power_target", "1,5", "not a number"),
        ("miner/alpha", "power_target", "１５００", "not a number"),  # full-width digits
        ("controller", "stop_soc_pct", "１２", "not a number"),
        ("controller", "stop_soc_pct", "٣٠", "not a number"),  # Arabic-Indic digits
        ("controller", "start_surplus_w", "1_000", "not a number"),
        ("controller", "start_surplus_w", "0x10", "not a number"),
        ("controller", "start_surplus_w", "1e999", "not a finite number"),
        ("controller", "start_surplus_w", "-Infinity", "not a finite number"),
        ("miner/plug", "power_target", "1350", "unknown command"),  # on/off only
        ("miner/ghost", "mining", "ON", "unknown miner"),
        ("miner/alpha", "mining", "maybe", "not ON or OFF"),
        ("miner/alpha", "mining", b"\xff\xfe", "not UTF-8"),
        ("miner/alpha", "mining", "", "empty payload"),
        ("miner/alpha", "mining", "O" * 65, "too long"),
        ("energy", "pv_power", "1", "unknown device"),
    ],
)
def test_invalid_commands(device, key, payload, reason):
    with pytest.raises(CommandError, match=reason):
        parse(device, key, payload)


@given(
    topic=st.sampled_from(
        ["controller/mode", "controller/stop_soc_pct", "miner/alpha/power_target"]
        + ["miner/alpha/mining", "miner/alpha/control", "miner/ghost/mining"]
    ),
    payload=st.binary(max_size=80) | st.text(max_size=80),
)
def test_parse_never_raises_anything_but_command_error(topic, payload):
    parsed = Topics().parse_command(f"edge_mining/{topic}/set")
    assert parsed is not None
    try:
        request = parse(*parsed, payload)
    except CommandError as error:
        assert "\n" not in str(error)
    else:
        if isinstance(request, SetMinerPower):
            assert 1000 <= request.watts <= 3000 and math.isfinite(request.watts)


# ------------------------------------------------------------------------ through the broker


async def test_switch_and_power_target_round_trip(mosquitto, tmp_path):
    base, prefix = unique_namespace("roundtrip")
    site = site_config(mosquitto, tmp_path, base, prefix)
    async with Recorder(mosquitto, f"{base}/#") as rec, running_site(site) as running:
        state_topic = f"{base}/miner/alpha/state"
        await rec.wait_topic(state_topic)
        await rec.publish(f"{base}/miner/alpha/mining/set", "ON")
        mining = await rec.wait_for(
            lambda m: m.topic == state_topic and m.json()["status"] == "mining", timeout=15
        )
        assert mining.json()["mining"] is True and mining.json()["hashrate"] > 0
        assert mining.json()["control"] == "manual"  # a manual command holds the miner

        await rec.publish(f"{base}/miner/alpha/power_target/set", "1500")
        confirmed = await rec.wait_for(
            lambda m: m.topic == state_topic and m.json()["power_target"] == 1500
        )
        assert confirmed.json()["control"] == "manual"
        assert running.miners["alpha"].requested_w[-1] == 1500

        await rec.publish(f"{base}/miner/alpha/mining/set", "OFF")
        await rec.wait_for(
            lambda m: m.topic == state_topic and m.json()["status"] in ("stopping", "paused")
        )
        await rec.publish(f"{base}/miner/alpha/control/set", "auto")
        await rec.wait_for(lambda m: m.topic == state_topic and m.json()["control"] == "auto")

        await rec.publish(f"{base}/controller/mode/set", "manual")
        await rec.wait_for(
            lambda m: m.topic == f"{base}/controller/state" and m.json()["mode"] == "manual"
        )
        await rec.publish(f"{base}/controller/start_soc_pct/set", "90")
        await rec.wait_for(
            lambda m: m.topic == f"{base}/controller/state" and m.json()["start_soc_pct"] == 90
        )
        assert running.daemon.control.start_soc_pct == 90


async def test_rejected_commands_log_one_line_and_republish_the_real_value(
    mosquitto, tmp_path, caplog
):
    base, prefix = unique_namespace("reject")
    site = site_config(mosquitto, tmp_path, base, prefix)
    caplog.set_level(logging.WARNING, logger="edge_mining.mqtt.bridge")
    async with Recorder(mosquitto, f"{base}/#") as rec, running_site(site) as running:
        state_topic = f"{base}/miner/alpha/state"
        real = (await rec.wait_topic(state_topic)).json()["power_target"]
        for topic, payload in [
            (f"{base}/miner/alpha/power_target/set", "5000"),  # out of range
            (f"{base}/miner/alpha/power_target/set", "lots"),  # malformed
            (f"{base}/controller/mode/set", "turbo"),  # unknown option
            (f"{base}/miner/ghost/mining/set", "ON"),  # unknown miner
            (f"{base}/controller/stop_soc_pct/set", "95"),  # above start SoC: daemon refuses
        ]:
            mark = len(rec.messages)
            before = running.bridge.commands_rejected
            caplog.clear()
            await rec.publish(topic, payload)
            for _ in range(100):
                if running.bridge.commands_rejected > before:
                    break
                await asyncio.sleep(0.02)
            assert running.bridge.commands_rejected == before + 1, topic
            rejected = [r for r in caplog.records if "rejected" in r.getMessage()]
            assert len(rejected) == 1 and "\n" not in rejected[0].getMessage()
            if "/miner/alpha/" in topic:
                again = await rec.wait_topic(state_topic, after=mark)
                assert again.json()["power_target"] == real
            if "/controller/" in topic:
                again = await rec.wait_topic(f"{base}/controller/state", after=mark)
                assert again.json()["mode"] == "auto" and again.json()["stop_soc_pct"] == 40
        assert running.bridge.commands_applied == 0
        assert not running.daemon_task.done()


# --------------------------------------------------------------------------------- the fuzz


class _LoopThread:
    """An event loop in a thread, so a sync hypothesis test can drive a running site."""

    def __init__(self) -> None:
        self.loop = asyncio.new_event_loop()
        self.thread = threading.Thread(target=self.loop.run_forever, daemon=True)
        self.thread.start()

    def run(self, coroutine, timeout: float = 30.0):
        return asyncio.run_coroutine_threadsafe(coroutine, self.loop).result(timeout)

    def close(self) -> None:
        self.loop.call_soon_threadsafe(self.loop.stop)
        self.thread.join(10)
        self.loop.close()


def test_fuzz_every_command_topic(mosquitto, tmp_path):
    base, prefix = unique_namespace("fuzz")
    site = site_config(mosquitto, tmp_path, base, prefix)
    command_topics = (
        [
            f"{base}/controller/{key}/set"
            for key in ("mode", "start_soc_pct", "stop_soc_pct", "start_surplus_w", "min_on_s")
        ]
        + [
            f"{base}/miner/{name}/{key}/set"
            for name in ("alpha", "beta")
            for key in ("mining", "power_target", "control")
        ]
        + [f"{base}/miner/ghost/mining/set", f"{base}/controller/nonsense/set"]
    )
    loop = _LoopThread()
    context = running_site(site)
    running = loop.run(context.__aenter__())
    client = paho.Client(paho.CallbackAPIVersion.VERSION2)
    client.connect(mosquitto.host, mosquitto.port)
    client.loop_start()
    sent = 0
    try:
        payloads = (
            st.binary(max_size=100)
            | st.text(max_size=40)
            | st.floats(allow_nan=True, allow_infinity=True).map(repr)
            | st.integers(-(10**6), 10**6).map(str)
            | st.sampled_from(["ON", "OFF", "auto", "manual", "off", "1500", "800", "3000"])
        )

        @settings(
            max_examples=300,
            deadline=None,
            suppress_health_check=[HealthCheck.function_scoped_fixture],
        )
        @given(topic=st.sampled_from(command_topics), payload=payloads)
        def send(topic, payload):
            nonlocal sent
            data = payload if isinstance(payload, bytes) else payload.encode("utf-8", "replace")
            client.publish(topic, data, qos=1).wait_for_publish(5)
            sent += 1

        send()

        async def settle() -> None:
            bridge = running.bridge
            for _ in range(500):
                if bridge.commands_applied + bridge.commands_rejected >= sent:
                    return
                await asyncio.sleep(0.02)

        loop.run(settle())
        bridge = running.bridge
        assert bridge.commands_applied + bridge.commands_rejected == sent
        assert bridge.commands_rejected > 0 and bridge.commands_applied > 0
        assert not running.daemon_task.done() and not running.bridge_task.done()
        assert bridge.connected.is_set()
        for name, miner in running.miners.items():
            config = site.miner(name)
            assert all(config.min_power_w <= w <= config.max_power_w for w in miner.requested_w)
            assert miner.target_w <= config.max_power_w and miner.power_w <= config.max_power_w
    finally:
        client.loop_stop()
        client.disconnect()
        loop.run(context.__aexit__(None, None, None))
        loop.close()


# ------------------------------------------------------------------ floods and retained commands

FLOOD = 10_000


def _flood_accounting(records: list[logging.LogRecord]) -> tuple[int, int]:
    """(lines, commands they account for): each line one command, a count line N more."""
    lines = [r.getMessage() for r in records]
    counted = 0
    for line in lines:
        more = re.search(r": (\d+) more in the last", line)
        counted += int(more.group(1)) if more else 1
    return len(lines), counted


async def test_a_flood_of_bad_commands_writes_a_few_lines_that_count_every_one(
    mosquitto, tmp_path, caplog
):
    # 10,000 bad commands in a burst once wrote 6,587 WARNING lines in 3 s.
    base, prefix = unique_namespace("flood")
    site = site_config(mosquitto, tmp_path, base, prefix)
    bad = [
        (f"{base}/miner/alpha/power_target/set", b"5000"),  # out of range
        (f"{base}/controller/stop_soc_pct/set", "１２".encode()),  # full-width digits
        (f"{base}/controller/mode/set", b"turbo"),  # no such mode
        (f"{base}/miner/ghost/mining/set", b"ON"),  # no such miner
        (f"{base}/miner/beta/mining/set", b"\xff\xfe"),  # not text
    ]
    caplog.set_level(logging.INFO, logger="edge_mining")
    client = paho.Client(paho.CallbackAPIVersion.VERSION2)
    client.connect(mosquitto.host, mosquitto.port)
    client.loop_start()
    try:
        async with running_site(site) as running:
            bridge = running.bridge
            start = len(caplog.records)
            for i in range(FLOOD):
                topic, payload = bad[i % len(bad)]
                client.publish(topic, payload, qos=0)
            deadline = time.monotonic() + 60
            while bridge.commands_rejected < FLOOD and time.monotonic() < deadline:
                await asyncio.sleep(0.05)
            assert bridge.commands_rejected == FLOOD and bridge.commands_applied == 0
            assert not running.daemon_task.done() and bridge.connected.is_set()
        # Stopping writes the counts of the windows still open.
        flood_records = [
            r
            for r in caplog.records[start:]
            if r.name == "edge_mining.mqtt.bridge" and r.levelno >= logging.WARNING
        ]
    finally:
        client.loop_stop()
        client.disconnect()
    lines, counted = _flood_accounting(flood_records)
    # Per kind (rejected on each topic, dropped): 3 lines, then one count.
    assert lines <= 4 * (len(bad) + 1), "\n".join(r.getMessage() for r in flood_records)
    assert counted == FLOOD, "\n".join(r.getMessage() for r in flood_records)
    assert all("\n" not in r.getMessage() for r in flood_records)


async def test_retained_commands_are_ignored_at_every_connection_and_logged_once(
    mosquitto, tmp_path, caplog
):
    # A retained `mode/set off` forced the mode off at every reconnect and restart.
    base, prefix = unique_namespace("retained")
    site = site_config(mosquitto, tmp_path, base, prefix)
    caplog.set_level(logging.INFO, logger="edge_mining")
    async with Recorder(mosquitto, f"{base}/#") as rec:
        await rec.publish(f"{base}/controller/mode/set", "off", retain=True)
        await rec.publish(f"{base}/miner/alpha/mining/set", "ON", retain=True)
        try:
            async with running_site(site) as running:
                bridge = running.bridge
                await _until(lambda: bridge.retained_ignored == 2)
                # A broker takes a session over when another client connects with its id:
                # the bridge reconnects, subscribes again and is sent the retained ones again.
                async with aiomqtt.Client(
                    mosquitto.host, mosquitto.port, identifier=bridge.client_id
                ):
                    pass
                await _until(lambda: bridge.connections == 2 and bridge.retained_ignored == 4)
                assert running.daemon.mode is Mode.AUTO
                assert running.daemon.state.manual_miners == frozenset()
                assert bridge.commands_applied == bridge.commands_rejected == 0
                ignoring = [r for r in caplog.records if "ignoring the retained" in r.getMessage()]
                assert sorted(r.getMessage().split()[6] for r in ignoring) == [
                    f"{base}/controller/mode/set",
                    f"{base}/miner/alpha/mining/set",
                ]
                # Sent now, a command is obeyed even if its sender asked the broker to retain it
                # (the broker passes it on live with the retain flag cleared).
                await rec.publish(f"{base}/controller/mode/set", "manual", retain=True)
                await _until(lambda: running.daemon.mode is Mode.MANUAL)
        finally:
            for topic in ("controller/mode/set", "miner/alpha/mining/set"):
                await rec.publish(f"{base}/{topic}", b"", retain=True)


async def _until(condition, timeout: float = 20.0) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, "condition not reached"
        await asyncio.sleep(0.02)
