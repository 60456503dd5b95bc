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
import json
import os
import sys
from typing import Any

from edge_mining.config import MinerConfig
from edge_mining.devices.braiins import probe as braiins_probe
from edge_mining.devices.registry import Device, family_of, load, miner_families
from edge_mining.model import MinerStatus

PASSWORD_ENV = braiins_probe.PASSWORD_ENV
EXIT_UNREACHABLE = braiins_probe.EXIT_UNREACHABLE
EXIT_AUTH = braiins_probe.EXIT_AUTH


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
    config = MinerConfig(
        name="probe",
        driver=family.name,  # type: ignore[arg-type]
        host=host,
        username=username,
        password=password or "",
        min_power_w=0,
        max_power_w=100_000,
        nominal_hashrate_ths=1,
        nominal_power_w=1,
    )
    driver = load(family.driver)(config, timeout_s=timeout_s)
    try:
        state = await driver.read()
    finally:
        await driver.close()
    constraints = driver.constraints
    auth_failed = any("refused the credentials" in error for error in state.errors)
    return {
        "host": host,
        "reachable": state.status != MinerStatus.UNREACHABLE,
        "backend": family.name,
        "model": state.model,
        "firmware": state.firmware,
        "serial": state.serial,
        "status": state.status.value,
        "hashrate_ths": round(state.hashrate_ths, 3),
        "power_w": state.power_w,
        "power_target_w": state.power_target_w,
        "constraints": (
            {"min_w": constraints.min_w, "max_w": constraints.max_w, "default_w": None}
            if constraints
            else None
        ),
        "temperature_c": state.temperature_c,
        "fan_rpm": state.fan_rpm,
        "errors": list(state.errors),
        "family": family.name,
        "levels": [
            {"name": lv.name, "power_w": lv.power_w, "hashrate_ths": lv.hashrate_ths}
            for lv in state.levels
        ],
        "level": state.level,
        "_auth_failed": auth_failed,
    }


def _text(result: dict[str, Any]) -> str:
    text = braiins_probe._text(result)  # the shared lines, then what families add
    lines = [text, f"family      {result['family'] or 'unknown'}"]
    if result["levels"]:
        levels = ", ".join(
            f"{lv['name']} {lv['power_w']:g} W {lv['hashrate_ths']:g} TH/s"
            for lv in result["levels"]
        )
        lines.append(f"levels      {levels}")
        lines.append(f"level       {result['level'] or 'unknown'}")
    return "\n".join(lines)


def main(args: argparse.Namespace) -> int:
    password = args.password
    if password is None:
        password = os.environ.get(PASSWORD_ENV) or None
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
