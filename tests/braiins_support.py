"""Helpers for the miner tests (BraiinsOS and every other family): distinct loopback ranges,
miner configs, waiting on telemetry."""

from __future__ import annotations

import asyncio
import itertools
import random
import time
from collections.abc import Callable

from edge_mining.config import MinerConfig
from edge_mining.devices.braiins.driver import BraiinsMiner
from edge_mining.model import MinerState

# Each test takes a fresh 127.S.N.0/24 so no two tests share an address (or TIME_WAIT). S is
# drawn once per test process, so two suites running side by side (two checkouts on one
# machine) do not collide on the emulators' fixed ports either.
_SECOND_OCTET = random.SystemRandom().randrange(100, 250)
_ranges = itertools.count(1)

FAST = {"speed": 20.0}  # 10 s warm-up -> 0.5 s, 30 s ramp -> 1.5 s, 20 s settle -> 1 s


def fresh_host(offset: int = 1) -> str:
    """The first host of a new /24 on loopback (``offset`` within it)."""
    return f"127.{_SECOND_OCTET}.{next(_ranges)}.{offset}"


def miner_config(
    host: str, *, name: str = "bos", password: str = "root", driver: str = "braiins", **extra
) -> MinerConfig:
    """A miner entry for ``host`` (a BraiinsOS S19j Pro's figures unless ``extra`` says)."""
    data = {
        "name": name,
        "driver": driver,
        "host": host,
        "password": password,
        "min_power_w": 500,
        "max_power_w": 4000,
        "nominal_hashrate_ths": 104,
        "nominal_power_w": 3068,
    }
    data.update(extra)
    return MinerConfig(**data)


async def wait_for_state(
    driver: BraiinsMiner,
    predicate: Callable[[MinerState], bool],
    *,
    timeout_s: float = 10.0,
    interval_s: float = 0.05,
) -> tuple[MinerState, list[MinerState]]:
    """Read until ``predicate`` holds; returns the matching state and everything seen."""
    seen: list[MinerState] = []
    deadline = time.monotonic() + timeout_s
    while True:
        state = await driver.read()
        seen.append(state)
        if predicate(state):
            return state, seen
        if time.monotonic() > deadline:
            statuses = [s.status.value for s in seen[-10:]]
            raise AssertionError(f"condition not met within {timeout_s} s; last: {statuses}")
        await asyncio.sleep(interval_s)
