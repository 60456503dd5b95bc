"""``edge-mining emulate solaredge`` and ``edge-mining probe solaredge`` as processes."""

from __future__ import annotations

import json
import selectors
import signal
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from edge_mining.devices.solaredge.probe import parse_address

ROOT = Path(__file__).resolve().parent.parent
CLI = [sys.executable, "-m", "edge_mining.cli"]


def read_line(process: subprocess.Popen[str], timeout_s: float) -> str:
    assert process.stdout is not None
    selector = selectors.DefaultSelector()
    selector.register(process.stdout, selectors.EVENT_READ)
    try:
        if not selector.select(timeout_s):
            raise AssertionError(f"no line from the process within {timeout_s} s")
        return process.stdout.readline().strip()
    finally:
        selector.close()


def start_emulator() -> subprocess.Popen[str]:
    return subprocess.Popen(
        [*CLI, "emulate", "solaredge", "--host", "127.0.0.1", "--port", "0"],
        cwd=ROOT,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )


@pytest.fixture(scope="module")
def emulated() -> Iterator[tuple[subprocess.Popen[str], str]]:
    process = start_emulator()
    try:
        line = read_line(process, 20)
        assert line.startswith("MODBUS 127.0.0.1:"), line
        yield process, line.removeprefix("MODBUS ")
    finally:
        if process.poll() is None:
            process.kill()
            process.wait(5)


def run_cli(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [*CLI, *args], cwd=ROOT, capture_output=True, text=True, timeout=30, check=False
    )


def test_probe_reads_the_emulator_as_json(emulated: tuple[subprocess.Popen[str], str]) -> None:
    _, address = emulated
    result = run_cli("probe", "solaredge", address, "--json")
    assert result.returncode == 0, result.stderr
    data = json.loads(result.stdout)
    assert data["device"]["manufacturer"] == "SolarEdge"
    assert data["inverter"]["model_id"] == 101
    assert data["grid_meter"]["option"] == "Export+Import"
    assert len(data["batteries"]) == 1
    reading = data["reading"]
    assert 0.0 <= reading["battery_soc_pct"] <= 100.0
    assert reading["load_power_w"] == pytest.approx(
        data["inverter"]["ac_power_w"] + reading["grid_power_w"]
    )


def test_probe_prints_a_readable_summary(emulated: tuple[subprocess.Popen[str], str]) -> None:
    _, address = emulated
    result = run_cli("probe", "solaredge", address)
    assert result.returncode == 0, result.stderr
    assert "SolarEdge SE8K" in result.stdout
    assert "grid meter model 201 (Export+Import)" in result.stdout
    assert "battery 1: LG RESU10H" in result.stdout


def test_emulator_exits_0_on_sigterm() -> None:
    process = start_emulator()
    try:
        assert read_line(process, 20).startswith("MODBUS 127.0.0.1:")
        process.send_signal(signal.SIGTERM)
        assert process.wait(10) == 0
    finally:
        if process.poll() is None:
            process.kill()
            process.wait(5)


def test_probe_of_nothing_exits_1(unused_tcp_port: int) -> None:
    result = run_cli("probe", "solaredge", f"127.0.0.1:{unused_tcp_port}")
    assert result.returncode == 1
    assert "cannot connect" in result.stderr


def test_bad_addresses_exit_2() -> None:
    result = run_cli("probe", "solaredge", "127.0.0.1:99999")
    assert result.returncode == 2
    assert "port must be 1-65535" in result.stderr
    result = run_cli("emulate", "solaredge", "--port", "0", "--faults", "explode=1")
    assert result.returncode == 2
    assert "unknown fault" in result.stderr


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("192.168.1.20", ("192.168.1.20", 1502)),
        ("inverter.local:502", ("inverter.local", 502)),
        ("[fe80::1]:1502", ("fe80::1", 1502)),
        ("fe80::1", ("fe80::1", 1502)),
    ],
)
def test_parse_address(text: str, expected: tuple[str, int]) -> None:
    assert parse_address(text) == expected


@pytest.mark.parametrize("text", ["", ":502", "host:port", "[fe80::1", "h:0"])
def test_parse_address_refuses(text: str) -> None:
    with pytest.raises(ValueError, match="bad address"):
        parse_address(text)
