"""The command lines around the PI30 inverter: emulate, probe, and run with a voltronic source."""

from __future__ import annotations

import asyncio
import json
import signal
import sys
import time

import pytest

from edge_mining.config import PlantConfig
from edge_mining.devices.voltronic.emulator import FaultSpec, Pi30Emulator
from edge_mining.sim.plant import Plant

CLI = [sys.executable, "-m", "edge_mining.cli"]

PROBE_KEYS = {
    "device",
    "transport",
    "protocol",
    "serial_number",
    "firmware",
    "rated",
    "mode",
    "warnings",
    "status",
    "reading",
    "errors",
    "fault_counts",
}


async def _cli(*args: str, timeout: float = 30.0) -> tuple[int, str, str]:
    process = await asyncio.create_subprocess_exec(
        *CLI, *args, stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE
    )
    out, err = await asyncio.wait_for(process.communicate(), timeout)
    assert process.returncode is not None
    return process.returncode, out.decode(), err.decode()


async def test_emulate_prints_pty_first_then_serves_the_probe_until_sigterm():
    process = await asyncio.create_subprocess_exec(
        *CLI,
        "emulate",
        "inverter",
        "--speed",
        "60",
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )
    try:
        assert process.stdout is not None
        first = (await asyncio.wait_for(process.stdout.readline(), 20)).decode()
        assert first.startswith("PTY /dev/")
        path = first.split(" ", 1)[1].strip()

        code, out, err = await _cli("probe", "inverter", "--device", path, "--json")
        assert code == 0, err
        result = json.loads(out)
        assert set(result) == PROBE_KEYS
        assert result["protocol"] == "PI30"
        assert result["serial_number"] == "96332309100452"
        assert result["firmware"] == "00072.70"
        assert result["mode"] in ("line", "battery")
        assert result["warnings"]["bits"] == "0" * 32
        assert result["rated"]["battery_rating_voltage_v"] == 48.0
        assert result["status"]["status"]["load_on"] in (True, False)
        assert result["reading"]["load_power_w"] > 0
        assert result["errors"] == {} and result["fault_counts"] == {}

        code, out, _ = await _cli("probe", "inverter", "--device", path)
        assert code == 0 and "serial        96332309100452" in out
    finally:
        process.send_signal(signal.SIGTERM)
        code = await asyncio.wait_for(process.wait(), 10)
    assert code == 0


async def test_emulate_rejects_a_bad_fault_spec():
    code, _, err = await _cli("emulate", "inverter", "--faults", "crc=2")
    assert code == 2 and "crc=2" in err
    code, _, err = await _cli("emulate", "inverter", "--faults", "sparks=0.1")
    assert code == 2 and "sparks" in err


def test_fault_spec_parsing():
    spec = FaultSpec.parse("crc=0.1, nak=0.05,slow=0.01,slow_s=4,vanish_s=2,seed=3")
    assert spec.rates == {"crc": 0.1, "nak": 0.05, "slow": 0.01}
    assert (spec.slow_s, spec.vanish_s, spec.seed) == (4.0, 2.0, 3)
    assert FaultSpec.parse("").rates == {}
    with pytest.raises(ValueError, match="more than 1"):
        FaultSpec.parse("crc=0.6,nak=0.6")
    with pytest.raises(ValueError, match="NAME=NUMBER"):
        FaultSpec.parse("crc")


async def test_probe_of_a_missing_device_fails_cleanly(tmp_path):
    code, out, err = await _cli("probe", "inverter", "--device", str(tmp_path / "none"), "--json")
    assert code == 1
    result = json.loads(out)
    assert result["status"] is None and "QPIGS" in result["errors"]
    assert "could not read" in err


async def test_run_reads_a_voltronic_inverter(tmp_path):
    plant = Plant(PlantConfig(), start_time=time.time())
    async with Pi30Emulator(plant, step_plant=True) as emulator:
        config = tmp_path / "site.yaml"
        config.write_text(
            f"""
name: pi30 site
state_dir: {tmp_path / "state"}
energy_source:
  type: voltronic
  device: {emulator.path}
  poll_interval_s: 0.2
  timeout_s: 1.0
miners:
  - name: m1
    min_power_w: 500
    max_power_w: 1400
    nominal_hashrate_ths: 50
    nominal_power_w: 1400
control:
  tick_s: 1
mqtt:
  enabled: false
"""
        )
        process = await asyncio.create_subprocess_exec(
            *CLI, "run", "--config", str(config), stderr=asyncio.subprocess.PIPE
        )
        try:
            deadline = time.monotonic() + 20
            while emulator.commands["QPIGS"] < 3:
                assert process.returncode is None, "edge-mining run exited"
                assert time.monotonic() < deadline, "the daemon never polled the inverter"
                await asyncio.sleep(0.1)
        finally:
            process.send_signal(signal.SIGTERM)
            _, err = await asyncio.wait_for(process.communicate(), 20)
    assert process.returncode == 0, err.decode()
    assert emulator.commands["QMOD"] >= 1 and emulator.commands["QPIWS"] >= 1
    assert "config error" not in err.decode()


async def test_demo_runs_with_the_emulated_inverter(tmp_path):
    code, out, err = await _cli(
        "demo", "--inverter", "emulated", "--duration", "3", "--speed", "120", timeout=60
    )
    assert code == 0, err
    assert "emulated PI30 inverter on /dev/" in out
    assert "demo ended after" in out
    # The console shows inverter readings, not just blanks.
    assert "PV " in out and "SoC" in out
    assert "failed after" not in err
