"""The MQTT bridge against a real Mosquitto broker, with the real daemon on a simulated site."""

from __future__ import annotations

import asyncio
import json
import os
import signal
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from edge_mining.mqtt.broker import EmbeddedBroker
from tests.mqtt_broker import Recorder, mosquitto, private_broker, unique_namespace
from tests.mqtt_site import running_site, site_config

__all__ = ["mosquitto", "private_broker"]  # fixtures


def _topics(base: str, prefix: str) -> tuple[str, str]:
    return f"{base}/#", f"{prefix}/#"


async def test_online_discovery_state_then_clean_offline(mosquitto, tmp_path):
    base, prefix = unique_namespace("clean")
    site = site_config(mosquitto, tmp_path, base, prefix)
    async with Recorder(mosquitto, *_topics(base, prefix)) as rec:
        async with running_site(site):
            await rec.wait_topic(f"{base}/status", "online")
            for device in ("controller", "energy", "miner_alpha", "miner_beta"):
                config = await rec.wait_topic(f"{prefix}/device/{base}_{device}/config")
                assert config.retain is False or config.retain  # delivered live or retained
                assert config.json()["cmps"]
            state = await rec.wait_topic(f"{base}/energy/state")
            assert state.json()["pv_power"] is not None
            await rec.wait_topic(f"{base}/energy/availability", "online")
            miner = await rec.wait_topic(f"{base}/miner/alpha/state")
            assert miner.json()["status"] in ("paused", "starting", "mining", "stopping")
        offline = await rec.wait_topic(f"{base}/status", "offline")
        assert offline.text == "offline"
    # Retained: a client arriving later sees the bridge offline.
    async with Recorder(mosquitto, f"{base}/status") as late:
        message = await late.wait_topic(f"{base}/status")
        assert message.retain and message.text == "offline"


async def test_abrupt_kill_yields_offline_through_the_will(mosquitto, tmp_path):
    base, prefix = unique_namespace("kill")
    site = site_config(mosquitto, tmp_path / "state", base, prefix)
    config = tmp_path / "site.yaml"
    config.write_text(yaml.safe_dump(json.loads(site.model_dump_json())), encoding="utf-8")
    async with Recorder(mosquitto, f"{base}/status") as rec:
        process = subprocess.Popen(
            [sys.executable, "-m", "edge_mining.cli", "run", "--config", str(config)],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE,
            env={**os.environ, "PYTHONPATH": str(Path(__file__).parent.parent)},
        )
        try:
            await rec.wait_topic(f"{base}/status", "online", timeout=60)
            mark = len(rec.messages)
            process.send_signal(signal.SIGKILL)
            process.wait(10)
            await rec.wait_topic(f"{base}/status", "offline", after=mark, timeout=10)
        finally:
            if process.poll() is None:
                process.kill()
                process.wait(10)
            if process.stderr:
                process.stderr.close()


async def test_broker_restart_is_survived(private_broker: EmbeddedBroker, tmp_path):
    base, prefix = unique_namespace("restart")
    site = site_config(private_broker, tmp_path, base, prefix)
    async with running_site(site) as running:
        await asyncio.sleep(0.2)
        assert running.bridge.connections == 1
        private_broker.restart()  # no persistence: every retained message is gone
        async with Recorder(private_broker, *_topics(base, prefix)) as rec:
            await rec.wait_topic(f"{base}/status", "online", timeout=15)
            await rec.wait_topic(f"{prefix}/device/{base}_miner_alpha/config")
            await rec.wait_topic(f"{base}/miner/alpha/state")
            await rec.wait_topic(f"{base}/energy/availability", "online")
        assert running.bridge.connections == 2
        assert not running.daemon_task.done()


async def test_home_assistant_birth_triggers_republication(mosquitto, tmp_path):
    base, prefix = unique_namespace("birth")
    site = site_config(mosquitto, tmp_path, base, prefix)
    async with Recorder(mosquitto, *_topics(base, prefix)) as rec:
        async with running_site(site):
            await rec.wait_topic(f"{prefix}/device/{base}_controller/config")
            await asyncio.sleep(0.3)
            mark = len(rec.messages)
            await rec.publish(f"{prefix}/status", "online")
            for device in ("controller", "energy", "miner_alpha", "miner_beta"):
                await rec.wait_topic(f"{prefix}/device/{base}_{device}/config", after=mark)
            await rec.wait_topic(f"{base}/controller/state", after=mark)
            # Home Assistant going offline is not a reason to republish anything.
            mark = len(rec.messages)
            await rec.publish(f"{prefix}/status", "offline")
            await asyncio.sleep(0.4)
            assert not [m for m in rec.messages[mark:] if m.topic.endswith("/config")]


async def test_removed_miner_entities_are_deleted(mosquitto, tmp_path):
    base, prefix = unique_namespace("removed")
    beta = f"{prefix}/device/{base}_miner_beta/config"
    async with running_site(site_config(mosquitto, tmp_path, base, prefix)):
        pass
    async with Recorder(mosquitto, beta) as rec:
        assert (await rec.wait_topic(beta)).retain  # announced, retained
        async with running_site(site_config(mosquitto, tmp_path, base, prefix, miners=("alpha",))):
            removal = await rec.wait_for(lambda m: m.topic == beta and m.payload == b"")
            assert removal.payload == b""
    registry = json.loads((tmp_path / "mqtt_discovery.json").read_text())
    assert beta not in registry["discovery_topics"]


async def test_removed_miner_deleted_from_the_retained_registry_alone(mosquitto, tmp_path):
    base, prefix = unique_namespace("registry")
    beta = f"{prefix}/device/{base}_miner_beta/config"
    async with running_site(site_config(mosquitto, tmp_path / "first", base, prefix)):
        pass
    # A fresh state_dir (e.g. a reinstalled add-on): the broker's registry still knows beta.
    site = site_config(mosquitto, tmp_path / "second", base, prefix, miners=("alpha",))
    async with Recorder(mosquitto, beta) as rec:
        async with running_site(site):
            await rec.wait_for(lambda m: m.topic == beta and m.payload == b"")


@pytest.mark.parametrize("protocol", ["3.1.1", "5"])
async def test_both_protocol_versions(mosquitto, tmp_path, protocol):
    base, prefix = unique_namespace(f"proto{protocol.replace('.', '')}")
    site = site_config(mosquitto, tmp_path, base, prefix, protocol=protocol)
    async with Recorder(mosquitto, f"{base}/#") as rec:
        async with running_site(site):
            await rec.wait_topic(f"{base}/status", "online")
            await rec.wait_topic(f"{base}/miner/alpha/state")
        await rec.wait_topic(f"{base}/status", "offline")


async def test_username_and_password(tmp_path):
    with EmbeddedBroker(username="edge", password="s3cret-pw") as broker:
        base, prefix = unique_namespace("auth")
        site = site_config(broker, tmp_path, base, prefix, username="edge", password="s3cret-pw")
        async with running_site(site) as running:
            assert running.bridge.connections == 1
        assert "s3cret-pw" not in repr(site)
