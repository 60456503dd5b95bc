"""What ``edge-mining probe miner`` prints, whatever the miner's family: one reading through the
family's driver as the documented JSON-ready dict, its text form, and the exit codes.

The ``--json`` shape is documented in :mod:`edge_mining.devices.braiins.probe` (and the keys
every family adds in :mod:`edge_mining.devices.miner_probe`).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import sys
from collections.abc import Awaitable, Callable
from typing import Any

from edge_mining.config import MinerConfig
from edge_mining.devices.base import MinerDriver
from edge_mining.model import MinerState, MinerStatus

PASSWORD_ENV = "EDGE_MINING_MINER_PASSWORD"
EXIT_UNREACHABLE = 1
EXIT_AUTH = 3

Probe = Callable[[str, str, str | None], Awaitable[dict[str, Any]]]


def probe_config(host: str, username: str, password: str, driver: str) -> MinerConfig:
    """A throwaway miner entry: only host, credentials and driver matter for reading."""
    return MinerConfig(
        name="probe",
        driver=driver,  # type: ignore[arg-type]
        host=host,
        username=username,
        password=password,
        min_power_w=0,
        max_power_w=100_000,
        nominal_hashrate_ths=1,
        nominal_power_w=1,
    )


async def read_once(driver: MinerDriver) -> MinerState:
    """One reading, then the driver closed."""
    try:
        return await driver.read()
    finally:
        await driver.close()


def state_result(
    host: str,
    backend: str | None,
    state: MinerState,
    constraints: dict[str, float | None] | None,
    *,
    auth_failed: bool,
) -> dict[str, Any]:
    """The documented dict for one reading (``_auth_failed`` is popped before printing)."""
    return {
        "host": host,
        "reachable": state.status != MinerStatus.UNREACHABLE,
        "backend": backend,
        "model": state.model,
        "firmware": state.firmware,
        "serial": state.serial,
        "status": state.status.value,
        "hashrate_ths": round(state.hashrate_ths, 3),
        "power_w": state.power_w,
        "power_target_w": state.power_target_w,
        "constraints": constraints,
        "temperature_c": state.temperature_c,
        "fan_rpm": state.fan_rpm,
        "errors": list(state.errors),
        "_auth_failed": auth_failed,
    }


def text(result: dict[str, Any]) -> str:
    """The lines every family prints."""

    def show(value: Any, unit: str = "") -> str:
        return "unknown" if value is None else f"{value:g}{unit}" if unit else str(value)

    constraints = result["constraints"]
    lines = [
        f"miner       {result['host']}",
        f"model       {show(result['model'])}",
        f"firmware    {show(result['firmware'])}",
        f"backend     {show(result['backend'])}",
        f"status      {result['status']}",
        f"hashrate    {show(result['hashrate_ths'], ' TH/s')}",
        f"power       {show(result['power_w'], ' W')}",
        f"target      {show(result['power_target_w'], ' W')}",
        "constraints "
        + (f"{constraints['min_w']:g} .. {constraints['max_w']:g} W" if constraints else "unknown"),
        f"temperature {show(result['temperature_c'], ' °C')}",
        f"fans        {show(result['fan_rpm'], ' rpm')}",
    ]
    lines += [f"error       {error}" for error in result["errors"]]
    return "\n".join(lines)


def run(
    args: argparse.Namespace,
    probe: Probe,
    as_text: Callable[[dict[str, Any]], str],
    default_password: str | None,
) -> int:
    """Probe ``args.host`` and print the result (``--json`` or text); returns the exit code.
    The password defaults to ``$EDGE_MINING_MINER_PASSWORD``, else ``default_password``."""
    password = args.password
    if password is None:
        password = os.environ.get(PASSWORD_ENV) or default_password
    result = asyncio.run(probe(args.host, args.username, password))
    auth_failed = result.pop("_auth_failed")
    if args.json:
        print(json.dumps(result, indent=2))
    else:
        print(as_text(result))
    if auth_failed:
        print(f"edge-mining probe miner: {result['errors'][0]}", file=sys.stderr)
        return EXIT_AUTH
    return 0 if result["reachable"] else EXIT_UNREACHABLE
