"""``edge-mining probe miner HOST [--username U] [--password P] [--json]``.

Detects the miner with pyasic and reads it once through :class:`BraiinsMiner`, printing what
the driver sees. The password defaults to ``$EDGE_MINING_MINER_PASSWORD``, else ``root``.

The ``--json`` shape (stable; unknown values are null)::

    {
      "host": "192.168.1.50",
      "reachable": true,
      "backend": "boser" | "bosminer" | "pyasic" | null,
      "model": "S19j Pro (BOS+)" | null,
      "firmware": "BraiinsOS+ 23.10" | null,
      "serial": "..." | null,
      "status": "mining" | "paused" | "starting" | "stopping" | "unreachable" | "error",
      "hashrate_ths": 104.0,          # 5 s average, TH/s
      "power_w": 3068.0,              # the miner's own estimate of its draw, W
      "power_target_w": 3068.0 | null,
      "constraints": {"min_w": 1200.0, "max_w": 3600.0, "default_w": 3068.0} | null,
      "temperature_c": 75.0 | null,   # hottest chip
      "fan_rpm": 5460.0 | null,       # mean of the fans
      "errors": ["..."]
    }

Exit code 0 when the miner was read, 1 when it is unreachable, 3 when it refused the
credentials (the message names the miner).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import sys
from typing import Any

from edge_mining.config import MinerConfig
from edge_mining.devices.braiins.driver import BraiinsMiner
from edge_mining.model import MinerStatus

PASSWORD_ENV = "EDGE_MINING_MINER_PASSWORD"
EXIT_UNREACHABLE = 1
EXIT_AUTH = 3


def probe_config(host: str, username: str, password: str) -> MinerConfig:
    """A throwaway miner entry: only host and credentials matter for reading."""
    return MinerConfig(
        name="probe",
        driver="braiins",
        host=host,
        username=username,
        password=password,
        min_power_w=0,
        max_power_w=100_000,
        nominal_hashrate_ths=1,
        nominal_power_w=1,
    )


async def probe(
    host: str, username: str = "root", password: str = "root", timeout_s: float = 10.0
) -> dict[str, Any]:
    """Everything the probe prints, as the documented JSON-ready dict."""
    driver = BraiinsMiner(probe_config(host, username, password), timeout_s=timeout_s)
    try:
        state = await driver.read()
    finally:
        await driver.close()
    constraints = driver.constraints
    return {
        "host": host,
        "reachable": state.status != MinerStatus.UNREACHABLE,
        "backend": driver.backend,
        "model": state.model,
        "firmware": state.firmware,
        "serial": state.serial,
        "status": state.status.value,
        "hashrate_ths": round(state.hashrate_ths, 3),
        "power_w": state.power_w,
        "power_target_w": state.power_target_w,
        "constraints": (
            {
                "min_w": constraints.min_w,
                "max_w": constraints.max_w,
                "default_w": constraints.default_w,
            }
            if constraints
            else None
        ),
        "temperature_c": state.temperature_c,
        "fan_rpm": state.fan_rpm,
        "errors": list(state.errors),
        "_auth_failed": driver.auth_error is not None,
    }


def _text(result: dict[str, Any]) -> str:
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


def main(args: argparse.Namespace) -> int:
    password = args.password
    if password is None:
        password = os.environ.get(PASSWORD_ENV) or "root"
    result = asyncio.run(probe(args.host, args.username, password))
    auth_failed = result.pop("_auth_failed")
    if args.json:
        print(json.dumps(result, indent=2))
    else:
        print(_text(result))
    if auth_failed:
        print(f"edge-mining probe miner: {result['errors'][0]}", file=sys.stderr)
        return EXIT_AUTH
    return 0 if result["reachable"] else EXIT_UNREACHABLE
