"""A SolarEdge energy source in ``edge-mining run`` and ``edge-mining demo --solaredge``."""

from __future__ import annotations

import asyncio
import signal
import sys
import time
from pathlib import Path

import yaml

from edge_mining.clock import WallClock
from edge_mining.config import PlantConfig, parse_config
from edge_mining.devices.factory import build_energy_source
from edge_mining.devices.solaredge.emulator import SolarEdgeEmulator
from edge_mining.devices.solaredge.source import SolarEdgeSource
from edge_mining.sim.plant import Plant

ROOT = Path(__file__).resolve().parent.parent
CLI = [sys.executable, "-m", "edge_mining.cli"]
MINER = {
    "name": "s9",
    "min_power_w": 700,
    "max_power_w": 1400,
    "nominal_hashrate_ths": 13.5,
    "nominal_power_w": 1300,
}


def site_with_solaredge(port: int, state_dir: Path) -> dict:
    return {
        "energy_source": {
            "type": "solaredge",
            "host": "127.0.0.1",
            "port": port,
            "unit": 1,
            "poll_interval_s": 0.3,
        },
        "miners": [MINER],
        "control": {"tick_s": 0.2},
        "mqtt": {"enabled": False},
        "state_dir": str(state_dir),
    }


async def test_factory_builds_the_driver_from_config(tmp_path: Path) -> None:
    plant = Plant(PlantConfig(), start_time=time.time())  # the emulator runs on wall time
    async with SolarEdgeEmulator(plant) as emulator:
        site = parse_config(site_with_solaredge(emulator.port, tmp_path), environ={})
        source = build_energy_source(site, clock=WallClock())
        assert isinstance(source, SolarEdgeSource)
        try:
            reading = await source.read()
        finally:
            await source.close()
    assert reading.battery_soc_pct is not None and reading.grid_power_w is not None


async def test_run_reads_the_emulated_inverter_and_stops_cleanly(tmp_path: Path) -> None:
    plant = Plant(PlantConfig(), start_time=time.time())  # the emulator runs on wall time
    async with SolarEdgeEmulator(plant) as emulator:
        config = tmp_path / "site.yaml"
        config.write_text(yaml.safe_dump(site_with_solaredge(emulator.port, tmp_path)))
        process = await asyncio.create_subprocess_exec(
            *CLI,
            "run",
            "--config",
            str(config),
            cwd=ROOT,
            stdout=asyncio.subprocess.PIPE,
            stderr=asyncio.subprocess.PIPE,
        )
        try:
            for _ in range(200):  # bounded: up to 20 s for start-up and a few polls
                if emulator.requests >= 16 or process.returncode is not None:
                    break
                await asyncio.sleep(0.1)
            assert emulator.requests >= 16, "the daemon did not poll the inverter"
            assert emulator.connections_opened == 1  # one connection kept
            process.send_signal(signal.SIGTERM)
            async with asyncio.timeout(20):
                _, stderr = await process.communicate()
        finally:
            if process.returncode is None:
                process.kill()
                await process.wait()
    assert process.returncode == 0, stderr.decode()
    assert b"energy source:" not in stderr  # no failed reading


async def test_demo_runs_on_the_emulated_solaredge() -> None:
    process = await asyncio.create_subprocess_exec(
        *CLI,
        "demo",
        "--solaredge",
        "--duration",
        "3",
        "--speed",
        "120",
        cwd=ROOT,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )
    async with asyncio.timeout(60):
        stdout, stderr = await process.communicate()
    out = stdout.decode()
    assert process.returncode == 0, stderr.decode()
    assert "emulated SolarEdge on Modbus TCP 127.0.0.1:" in out
    status_lines = [line for line in out.splitlines() if " | " in line and "PV" in line]
    assert status_lines, out
    assert "STALE" not in out
