"""Cost of one controller tick for 1, 10, 100 and 1000 miners.

Run from the repository root: ``python3 -m benchmarks.controller_tick [--ticks N]`` (or
``python3 benchmarks/controller_tick.py`` with the package installed). Prints mean and p95 per tick.
Goal: under 1 ms per tick for 10 miners, under 20 ms for 1000, on one core.

Each tick sees a moving surplus (a slow wave with noise on a grid-tied site with a battery), so
miners start, follow and stop as they would in a day: the timers, the allocation passes and
the command emission are all exercised, not just a no-op path. Building the snapshot is not
timed (the daemon builds it anyway); only ``Controller.tick`` is.
"""

from __future__ import annotations

import argparse
import math
import random
import statistics
import time

from edge_mining.config import ControlConfig, MinerConfig
from edge_mining.control import Controller
from edge_mining.model import Action, EnergyReading, MinerState, MinerStatus, Snapshot

T0 = 1_750_000_000.0


def make_miners(count: int, rng: random.Random) -> list[MinerConfig]:
    miners = []
    for i in range(count):
        power_target = i % 3 != 0
        low = rng.uniform(500, 1500)
        high = low + rng.uniform(500, 2500) if power_target else low
        miners.append(
            MinerConfig(
                name=f"m{i}",
                min_power_w=low,
                max_power_w=high,
                nominal_power_w=high,
                nominal_hashrate_ths=rng.uniform(50, 200),
                power_target=power_target,
                priority=rng.choice([None, None, 1, 2, 3]),
            )
        )
    return miners


def measure(count: int, ticks: int) -> tuple[float, float]:
    rng = random.Random(count)
    miners = make_miners(count, rng)
    control = ControlConfig(start_delay_s=30, stop_delay_s=30, min_on_s=120, min_off_s=60)
    controller = Controller(control, miners)
    running = {m.name: False for m in miners}
    target = {m.name: m.max_power_w for m in miners}
    capacity = sum(m.max_power_w for m in miners)
    samples = []
    for tick in range(ticks):
        now = T0 + tick * 5.0
        draw = sum(target[n] if running[n] else 0.0 for n in running)
        wave = 0.5 + 0.5 * math.sin(tick / 40.0)
        surplus = capacity * wave * rng.uniform(0.9, 1.1)
        snapshot = Snapshot(
            time=now,
            energy=EnergyReading(
                timestamp=now,
                battery_soc_pct=85.0,
                battery_power_w=0.0,
                grid_power_w=draw - surplus,
            ),
            miners={
                m.name: MinerState(
                    name=m.name,
                    timestamp=now,
                    status=MinerStatus.MINING if running[m.name] else MinerStatus.PAUSED,
                    power_w=target[m.name] if running[m.name] else 0.0,
                    power_target_w=target[m.name] if m.power_target else None,
                )
                for m in miners
            },
        )
        started = time.perf_counter()
        decision = controller.tick(snapshot)
        samples.append(time.perf_counter() - started)
        for command in decision.commands:
            if command.action is Action.START:
                running[command.miner] = True
            elif command.action is Action.STOP:
                running[command.miner] = False
            if command.power_w is not None:
                target[command.miner] = command.power_w
    samples = samples[10:]  # warm-up
    samples.sort()
    return statistics.fmean(samples), samples[int(0.95 * (len(samples) - 1))]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--ticks", type=int, default=400)
    args = parser.parse_args()
    print(f"{'miners':>7} {'mean':>10} {'p95':>10}   (ticks: {args.ticks})")
    for count in (1, 10, 100, 1000):
        ticks = args.ticks if count < 1000 else max(50, args.ticks // 4)
        mean, p95 = measure(count, ticks)
        print(f"{count:>7} {mean * 1e3:>8.3f} ms {p95 * 1e3:>8.3f} ms")


if __name__ == "__main__":
    main()
