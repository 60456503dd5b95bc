"""Prints the plant simulator's speed (a simulated year) and the daemon's overhead per control
tick with N simulated miners on a manual clock (pollers, controller, commands, counters).

    PYTHONPATH=. python3 benchmarks/plant_and_daemon.py   (or .venv/bin/python after ./scripts/test)
"""

from __future__ import annotations

import asyncio
import tempfile
import time
from datetime import UTC, datetime

from edge_mining.clock import ManualClock
from edge_mining.config import PlantConfig, parse_config
from edge_mining.devices.factory import build_devices
from edge_mining.service import Daemon
from edge_mining.sim.plant import Plant

START = datetime(2025, 1, 1, tzinfo=UTC).timestamp()


def plant_year(step_s: float) -> None:
    plant = Plant(PlantConfig(pv_cloud_noise=0.3), start_time=START, max_substep_s=step_s)
    steps = int(365 * 86400 / step_s)
    began = time.perf_counter()
    t = START
    for _ in range(steps):
        t += step_s
        plant.step(t)
    elapsed = time.perf_counter() - began
    s = plant.state
    print(
        f"plant: one simulated year in steps of {step_s:g} s: {elapsed:.2f} s "
        f"({steps / elapsed:,.0f} steps/s); PV {s.pv_wh / 1e6:.2f} MWh, "
        f"balance error {s.balance_error_wh:.2e} Wh"
    )


async def daemon_ticks(miners: int, ticks: int) -> None:
    with tempfile.TemporaryDirectory() as state_dir:
        site = parse_config(
            {
                "energy_source": {"type": "simulated", "plant": {"pv_kwp": 5.0 * miners}},
                "miners": [
                    {
                        "name": f"m{i}",
                        "min_power_w": 1000,
                        "max_power_w": 3000,
                        "nominal_hashrate_ths": 100,
                        "nominal_power_w": 3000,
                    }
                    for i in range(miners)
                ],
                "mqtt": {"enabled": False},
                "state_dir": state_dir,
            },
            environ={},
        )
        clock = ManualClock(START + 180 * 86400 + 11 * 3600)
        devices = build_devices(site, clock=clock)
        daemon = Daemon(site, energy=devices.energy, miners=devices.miners, clock=clock)
        stop = asyncio.Event()
        daemon.add_listener(lambda state: stop.set() if daemon.ticks >= ticks else None)
        began = time.perf_counter()
        await daemon.run(stop)
        elapsed = time.perf_counter() - began
        print(
            f"daemon: {miners:4d} simulated miner(s): {elapsed / daemon.ticks * 1e3:.3f} ms "
            f"per control tick, pollers included ({daemon.ticks} ticks)"
        )


def main() -> None:
    plant_year(60.0)
    plant_year(300.0)
    for miners in (1, 10, 100):
        asyncio.run(daemon_ticks(miners, 500 if miners < 100 else 100))


if __name__ == "__main__":
    main()
