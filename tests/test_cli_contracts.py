"""The command lines other tools rely on: ``edge-mining emulate inverter|miner|solaredge`` print
``PTY <path>``, ``MINER <host>`` and ``MODBUS <host>:<port>`` first, and the probe and emulate
subcommands take the flags, defaults and positional arguments they always took (now that the
device registry builds them)."""

from __future__ import annotations

import asyncio
import re
import signal
import sys
from typing import Any

import pytest
from braiins_support import fresh_host

from edge_mining.cli import build_parser

CLI = [sys.executable, "-m", "edge_mining.cli"]


def _command_and_first_line(device: str) -> tuple[list[str], str]:
    """The command line and the pattern of its first line."""
    if device == "inverter":
        return ["emulate", "inverter", "--speed", "60"], r"PTY /dev/pts/\d+"
    if device == "miner":
        host = fresh_host()
        return ["emulate", "miner", "--host", host], rf"MINER {re.escape(host)}"
    address = ["--host", "127.0.0.1", "--port", "0"]
    return ["emulate", "solaredge", *address], r"MODBUS 127\.0\.0\.1:\d+"


@pytest.mark.parametrize("device", ["inverter", "miner", "solaredge"])
async def test_each_emulator_prints_its_address_first_and_stops_on_sigterm(device):
    arguments, pattern = _command_and_first_line(device)
    process = await asyncio.create_subprocess_exec(
        *CLI, *arguments, stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE
    )
    try:
        assert process.stdout is not None
        first = (await asyncio.wait_for(process.stdout.readline(), 60)).decode()
        assert re.fullmatch(pattern, first.rstrip("\n")), first
        process.send_signal(signal.SIGTERM)
        assert await asyncio.wait_for(process.wait(), 30) == 0
    finally:
        if process.returncode is None:
            process.kill()
            await process.wait()


def _parsed(*argv: str) -> dict[str, Any]:
    values = vars(build_parser().parse_args(list(argv)))
    handler = values.pop("handler")
    assert callable(handler)
    return values


COMMON = {"log_level": None, "log_wire": False}


def test_emulate_flags_and_defaults():
    assert _parsed("emulate", "inverter") == {
        **COMMON, "command": "emulate", "device": "inverter",
        "speed": 1.0, "faults": "", "pacing": False,
    }  # fmt: skip
    assert _parsed(
        "emulate", "inverter", "--speed", "60", "--faults", "crc=0.1", "--pacing"
    ) == {
        **COMMON, "command": "emulate", "device": "inverter",
        "speed": 60.0, "faults": "crc=0.1", "pacing": True,
    }  # fmt: skip
    assert _parsed("emulate", "miner") == {
        **COMMON, "command": "emulate", "device": "miner", "host": "127.0.1.1", "count": 1,
        "model": "S19j Pro", "password": "root", "speed": 1.0, "faults": "",
        "list_models": False,
    }  # fmt: skip
    assert _parsed(
        "emulate", "miner", "--host", "127.0.9.1", "--count", "3", "--model", "Avalon Q",
        "--password", "pw", "--speed", "5", "--faults", "auth", "--list-models",
    ) == {
        **COMMON, "command": "emulate", "device": "miner", "host": "127.0.9.1", "count": 3,
        "model": "Avalon Q", "password": "pw", "speed": 5.0, "faults": "auth",
        "list_models": True,
    }  # fmt: skip
    assert _parsed("emulate", "solaredge") == {
        **COMMON, "command": "emulate", "device": "solaredge",
        "host": "127.0.0.1", "port": 1502, "speed": 1.0, "faults": "",
    }  # fmt: skip
    assert _parsed(
        "emulate", "solaredge", "--host", "127.0.0.2", "--port", "0", "--speed", "2",
        "--faults", "silent=0.1",
    ) == {
        **COMMON, "command": "emulate", "device": "solaredge",
        "host": "127.0.0.2", "port": 0, "speed": 2.0, "faults": "silent=0.1",
    }  # fmt: skip


def test_probe_flags_and_defaults():
    assert _parsed("probe", "inverter", "--device", "/dev/ttyUSB0") == {
        **COMMON, "command": "probe", "device": "/dev/ttyUSB0", "transport": None,
        "json": False,
    }  # fmt: skip
    assert _parsed(
        "probe", "inverter", "--device", "/dev/hidraw0", "--transport", "hidraw", "--json"
    ) == {
        **COMMON, "command": "probe", "device": "/dev/hidraw0", "transport": "hidraw",
        "json": True,
    }  # fmt: skip
    assert _parsed("probe", "miner", "192.168.1.50") == {
        **COMMON, "command": "probe", "device": "miner", "host": "192.168.1.50",
        "username": "root", "password": None, "json": False,
    }  # fmt: skip
    assert _parsed(
        "probe", "miner", "10.0.0.5", "--username", "admin", "--password", "pw", "--json"
    ) == {
        **COMMON, "command": "probe", "device": "miner", "host": "10.0.0.5",
        "username": "admin", "password": "pw", "json": True,
    }  # fmt: skip
    assert _parsed("probe", "solaredge", "192.168.1.60") == {
        **COMMON, "command": "probe", "device": "solaredge", "address": "192.168.1.60",
        "unit": 1, "json": False,
    }  # fmt: skip
    assert _parsed("probe", "solaredge", "192.168.1.60:502", "--unit", "2", "--json") == {
        **COMMON, "command": "probe", "device": "solaredge", "address": "192.168.1.60:502",
        "unit": 2, "json": True,
    }  # fmt: skip


@pytest.mark.parametrize(
    "argv",
    [
        ["probe", "inverter"],  # --device is required
        ["probe", "inverter", "--device", "/dev/x", "--transport", "usb"],
        ["probe", "miner"],  # the host is required
        ["probe", "solaredge"],  # the address is required
        ["emulate", "inverter", "--speed", "0"],
        ["emulate", "miner", "--speed", "-1"],
        ["emulate", "solaredge", "--port", "x"],
        ["emulate", "plug"],
    ],
)
def test_bad_command_lines_are_usage_errors(argv, capsys):
    with pytest.raises(SystemExit) as exit_:
        build_parser().parse_args(argv)
    assert exit_.value.code == 2
    assert "usage: edge-mining" in capsys.readouterr().err
