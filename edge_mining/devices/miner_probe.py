"""``edge-mining probe miner HOST [--username U] [--password P] [--json]``, for every family.

Detects the miner with pyasic, picks the family's driver (BraiinsOS, Avalon, ...) and reads it
once through that driver, printing what the driver sees. BraiinsOS miners and miners of no
family we drive specially go through the BraiinsOS probe (its ``pyasic`` backend reads any
miner pyasic knows). The password defaults to ``$EDGE_MINING_MINER_PASSWORD``, else the
family's factory default.

The ``--json`` shape is the BraiinsOS probe's (see :mod:`edge_mining.devices.braiins.probe`)
plus three keys every family fills (stable; unknown values are null)::

    {
      ...,
      "family": "braiins" | "avalon" | ... | null,
      "levels": [{"name": "eco", "power_w": 800.0, "hashrate_ths": 50.0}, ...],
      "level": "standard" | null     # the level it runs at, for a miner with levels
    }

Exit code 0 when the miner was read, 1 when it is unreachable, 3 when it refused the
credentials (the message names the miner).
"""

from __future__ import annotations

import argparse
import asyncio
from typing import Any

from edge_mining.devices.braiins import probe as braiins_probe
from edge_mining.devices.probe_report import EXIT_AUTH as EXIT_AUTH
from edge_mining.devices.probe_report import EXIT_UNREACHABLE as EXIT_UNREACHABLE
from edge_mining.devices.probe_report import PASSWORD_ENV as PASSWORD_ENV
from edge_mining.devices.probe_report import probe_config, read_once, run, state_result, text
from edge_mining.devices.registry import Device, family_of, load, miner_families


async def detect_family(host: str) -> Device | None:
    """The family of the miner at ``host`` as pyasic (or a family's own detection) sees it."""
    from pyasic.miners.factory import miner_factory

    try:
        miner = await asyncio.wait_for(miner_factory.get_miner(host), 15)
    except TimeoutError:
        return None
    if miner is not None:
        return family_of(miner)
    for entry in miner_families():
        driver_class = load(entry.driver)
        detector = getattr(driver_class, "recognises", None)
        if detector is not None and await detector(host):
            return entry
    return None


async def probe(
    host: str, username: str = "root", password: str | None = None, timeout_s: float = 10.0
) -> dict[str, Any]:
    """Everything the probe prints, as the documented JSON-ready dict."""
    family = await detect_family(host)
    if family is None or family.name == "braiins":
        result = await braiins_probe.probe(host, username, password or "root", timeout_s)
        result["family"] = "braiins" if result.get("backend") in ("boser", "bosminer") else None
        result["levels"] = []
        result["level"] = None
        return result
    config = probe_config(host, username, password or "", family.name)
    driver = load(family.driver)(config, timeout_s=timeout_s)
    state = await read_once(driver)
    c = driver.constraints
    constraints = {"min_w": c.min_w, "max_w": c.max_w, "default_w": None} if c else None
    auth_failed = any("refused the credentials" in error for error in state.errors)
    result = state_result(host, family.name, state, constraints, auth_failed=auth_failed)
    result["family"] = family.name
    result["levels"] = [
        {"name": lv.name, "power_w": lv.power_w, "hashrate_ths": lv.hashrate_ths}
        for lv in state.levels
    ]
    result["level"] = state.level
    return result


def _text(result: dict[str, Any]) -> str:
    lines = [text(result), f"family      {result['family'] or 'unknown'}"]  # then families' own
    if result["levels"]:
        levels = ", ".join(
            f"{lv['name']} {lv['power_w']:g} W {lv['hashrate_ths']:g} TH/s"
            for lv in result["levels"]
        )
        lines.append(f"levels      {levels}")
        lines.append(f"level       {result['level'] or 'unknown'}")
    return "\n".join(lines)


def main(args: argparse.Namespace) -> int:
    return run(args, probe, _text, default_password=None)
