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
from typing import Any

from edge_mining.devices.braiins.driver import BraiinsMiner
from edge_mining.devices.probe_report import EXIT_AUTH as EXIT_AUTH
from edge_mining.devices.probe_report import EXIT_UNREACHABLE as EXIT_UNREACHABLE
from edge_mining.devices.probe_report import PASSWORD_ENV as PASSWORD_ENV
from edge_mining.devices.probe_report import probe_config, read_once, run, state_result, text


async def probe(
    host: str, username: str = "root", password: str | None = "root", timeout_s: float = 10.0
) -> dict[str, Any]:
    """Everything the probe prints, as the documented JSON-ready dict."""
    config = probe_config(host, username, password or "root", "braiins")
    driver = BraiinsMiner(config, timeout_s=timeout_s)
    state = await read_once(driver)
    c = driver.constraints
    constraints = {"min_w": c.min_w, "max_w": c.max_w, "default_w": c.default_w} if c else None
    return state_result(
        host, driver.backend, state, constraints, auth_failed=driver.auth_error is not None
    )


def main(args: argparse.Namespace) -> int:
    return run(args, probe, text, default_password="root")
