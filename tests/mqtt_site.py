"""A simulated site (plant, simulated devices, the real Daemon) wired to the real MQTT bridge,
for the MQTT tests."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from edge_mining.clock import ScaledClock
from edge_mining.config import SiteConfig
from edge_mining.devices.factory import build_plant
from edge_mining.mqtt.bridge import MqttBridge
from edge_mining.mqtt.broker import EmbeddedBroker
from edge_mining.service import Daemon
from edge_mining.sim.devices import SimulatedEnergySource, SimulatedMiner

START = 1_750_000_000.0  # a June morning (UTC)
SPEED = 20.0  # simulated seconds per wall second: a 20 s miner boot takes 1 s


class RecordingMiner(SimulatedMiner):
    """The simulated miner, also recording every power target it is asked for (before its own
    clamping), so tests can prove nothing asked it to leave its limits."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.requested_w: list[float] = []

    async def set_power_target(self, watts: float) -> float:
        self.requested_w.append(watts)
        return await super().set_power_target(watts)


def site_config(
    broker: EmbeddedBroker,
    state_dir: Path,
    base_topic: str,
    discovery_prefix: str,
    *,
    miners: tuple[str, ...] = ("alpha", "beta"),
    **mqtt: Any,
) -> SiteConfig:
    return SiteConfig.model_validate(
        {
            "name": "Test Site",
            "miners": [
                {
                    "name": name,
                    "min_power_w": 800,
                    "max_power_w": 3000,
                    "nominal_hashrate_ths": 100,
                    "nominal_power_w": 3000,
                }
                for name in miners
            ],
            "control": {"tick_s": 5.0, "mode": "auto"},
            "mqtt": {
                "host": broker.host,
                "port": broker.port,
                "base_topic": base_topic,
                "discovery_prefix": discovery_prefix,
                **mqtt,
            },
            "state_dir": str(state_dir),
        }
    )


@dataclass
class RunningSite:
    site: SiteConfig
    daemon: Daemon
    bridge: MqttBridge
    miners: dict[str, RecordingMiner]
    daemon_task: asyncio.Task[None]
    bridge_task: asyncio.Task[None]


@contextlib.asynccontextmanager
async def running_site(
    site: SiteConfig, forecast: Any = None, **bridge_options: Any
) -> AsyncIterator[RunningSite]:
    clock = ScaledClock(START, SPEED)
    plant = build_plant(site, clock.now())
    energy = SimulatedEnergySource(plant, clock)
    miners = {m.name: RecordingMiner(m, plant, clock) for m in site.miners}
    if callable(forecast):
        forecast = forecast(plant, clock)
    daemon = Daemon(site, energy=energy, miners=miners, forecast=forecast, clock=clock)
    options = {"birth_delay_s": (0.05, 0.15), "backoff_s": (0.1, 0.5), **bridge_options}
    bridge = MqttBridge(site, daemon, **options)
    stop, bridge_stop = asyncio.Event(), asyncio.Event()
    daemon_task = asyncio.create_task(daemon.run(stop))
    bridge_task = asyncio.create_task(bridge.run(bridge_stop))
    running = RunningSite(site, daemon, bridge, miners, daemon_task, bridge_task)
    try:
        await asyncio.wait_for(bridge.connected.wait(), 10)
        yield running
    finally:
        stop.set()
        await asyncio.wait_for(asyncio.gather(daemon_task, return_exceptions=True), 10)
        bridge_stop.set()
        await asyncio.wait_for(asyncio.gather(bridge_task, return_exceptions=True), 10)
