"""Runs one rule-based policy over a scenario on the plant simulator and records a trace.

Each step: the policy looks at the plant as it is at the start of the step, sets the miners'
draw, and the plant integrates the step with that draw (``Plant.step``). Miner dynamics are
simplified to what matters at a step of minutes: a started miner reaches its power target
within the step, a stopped one draws nothing from the next step; starts are counted exactly.

The trace holds per-step energies (as mean powers) taken from the plant's cumulative
counters, so the energy balance of every step can be checked against the plant itself.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

import numpy as np

from edge_mining.analysis.scenario import Scenario
from edge_mining.config import MinerConfig, PlantConfig
from edge_mining.model import MinerState, MinerStatus
from edge_mining.sim.plant import Plant, PlantState


@dataclass
class Trace:
    """What happened, step by step (mean powers over each step, W; SoC in %)."""

    policy: str
    scenario: Scenario
    miner_names: tuple[str, ...]
    pv_w: np.ndarray
    house_w: np.ndarray
    miners_w: np.ndarray
    hashrate_ths: np.ndarray
    battery_in_w: np.ndarray
    battery_out_w: np.ndarray
    grid_import_w: np.ndarray
    grid_export_w: np.ndarray
    curtailed_w: np.ndarray
    unserved_w: np.ndarray
    soc_start_pct: np.ndarray
    soc_end_pct: np.ndarray
    running: np.ndarray  # steps x miners, bool: miner drew power during the step
    starts: np.ndarray  # days x miners, int
    fleet_max_w: float = 0.0  # all miners at their maximum power
    elapsed_s: float = 0.0
    notes: dict[str, float] = field(default_factory=dict)

    @property
    def balance_error_w(self) -> np.ndarray:
        """Sources minus sinks per step (mean W); zero up to rounding."""
        sources = self.pv_w + self.battery_out_w + self.grid_import_w + self.unserved_w
        sinks = (
            self.house_w + self.miners_w + self.battery_in_w + self.grid_export_w + self.curtailed_w
        )
        return sources - sinks


class Fleet:
    """The backtest's miners: running flag, power target, starts per local day."""

    def __init__(self, miners: Sequence[MinerConfig], scenario: Scenario) -> None:
        self.configs = list(miners)
        self.names = tuple(m.name for m in self.configs)
        self.index = {name: i for i, name in enumerate(self.names)}
        self.running = [False] * len(self.configs)
        self.target_w = [m.max_power_w for m in self.configs]
        # Hashrate from each miner's efficiency curve (the catalogue's, or its configured one).
        self.curves = [m.curve() for m in self.configs]
        self._scenario = scenario
        days = max(1, math.ceil(scenario.days))
        self.starts = np.zeros((days, len(self.configs)), dtype=np.int64)
        self.now = scenario.start

    def start(self, i: int, power_w: float | None = None) -> None:
        if power_w is not None:
            self.set_power(i, power_w)
        if not self.running[i]:
            self.running[i] = True
            day = min(self._scenario.day_index(self.now), len(self.starts) - 1)
            self.starts[day, i] += 1

    def stop(self, i: int) -> None:
        self.running[i] = False

    def set_power(self, i: int, power_w: float) -> None:
        m = self.configs[i]
        if not m.power_target:
            return
        self.target_w[i] = min(m.max_power_w, max(m.min_power_w, power_w))

    def draw(self, i: int) -> float:
        return self.target_w[i] if self.running[i] else 0.0

    def total_draw(self) -> float:
        return sum(self.draw(i) for i in range(len(self.configs)))

    def hashrate_ths(self) -> float:
        return sum(self.curves[i].hashrate_at(self.draw(i)) for i in range(len(self.configs)))

    def states(self, now: float) -> dict[str, MinerState]:
        states = {}
        for i, m in enumerate(self.configs):
            running = self.running[i]
            draw = self.draw(i)
            states[m.name] = MinerState(
                name=m.name,
                timestamp=now,
                status=MinerStatus.MINING if running else MinerStatus.PAUSED,
                hashrate_ths=self.curves[i].hashrate_at(draw),
                power_w=draw,
                power_target_w=self.target_w[i] if m.power_target else None,
                target_min_w=m.min_power_w if m.power_target else None,
                target_max_w=m.max_power_w if m.power_target else None,
            )
        return states


class RulePolicy:
    """A policy that decides each step from what the plant shows. Subclasses set ``name``."""

    name = "policy"

    def __init__(self, fleet: Fleet) -> None:
        self.fleet = fleet
        self.notes: dict[str, float] = {}

    def decide(self, now: float, state: PlantState, plant: Plant) -> None:
        raise NotImplementedError


def simulate(
    policy: RulePolicy,
    scenario: Scenario,
    plant_config: PlantConfig,
    *,
    max_substep_s: float | None = None,
    progress: Callable[[int, int], None] | None = None,
) -> Trace:
    """Run ``policy`` over ``scenario`` (see the module doc).

    ``progress(done_steps, total_steps)`` is called about every 1 % of the steps.

    ``max_substep_s``: the plant's integration sub-step; by default the whole step, which is
    exact here because PV, load and draws are constant within a step and the plant limits
    charge and discharge to what the SoC bounds allow over each sub-step.
    """
    began = time.perf_counter()
    start, dt, n = scenario.start, scenario.step_s, scenario.steps
    pv = scenario.pv_w.tolist()
    load = scenario.load_w.tolist()
    last = n - 1

    # The plant samples profiles at the middle of each sub-step: the step's mean applies.
    def pv_profile(t: float) -> float:
        return pv[min(last, max(0, int((t - start) // dt)))]

    def load_profile(t: float) -> float:
        return load[min(last, max(0, int((t - start) // dt)))]

    plant = Plant(
        plant_config,
        start_time=start,
        pv_profile=pv_profile,
        load_profile=load_profile,
        max_substep_s=max_substep_s or dt,
    )
    fleet = policy.fleet
    count = len(fleet.configs)
    names = fleet.names
    running = np.zeros((n, count), dtype=bool)
    hashrate = np.zeros(n)
    soc_start = np.zeros(n)
    counters = np.zeros((n + 1, 9))
    s = plant.state
    counters[0] = _counters(s)
    report_every = max(1, n // 100)
    for k in range(n):
        if progress and k % report_every == 0:
            progress(k, n)
        now = start + k * dt
        fleet.now = now
        soc_start[k] = s.battery_soc_pct
        policy.decide(now, s, plant)
        for i in range(count):
            draw = fleet.draw(i)
            plant.set_miner_draw(names[i], draw)
            running[k, i] = draw > 0.0
        hashrate[k] = fleet.hashrate_ths()
        s = plant.step(now + dt)
        counters[k + 1] = _counters(s)
    if progress:
        progress(n, n)
    hours = dt / 3600.0
    flows = np.diff(counters, axis=0) / hours
    soc_end = np.append(soc_start[1:], s.battery_soc_pct)
    return Trace(
        policy=policy.name,
        scenario=scenario,
        miner_names=names,
        pv_w=flows[:, 0],
        house_w=flows[:, 1],
        miners_w=flows[:, 2],
        hashrate_ths=hashrate,
        battery_in_w=flows[:, 3],
        battery_out_w=flows[:, 4],
        grid_import_w=flows[:, 5],
        grid_export_w=flows[:, 6],
        curtailed_w=flows[:, 7],
        unserved_w=flows[:, 8],
        soc_start_pct=soc_start,
        soc_end_pct=soc_end,
        running=running,
        starts=fleet.starts.copy(),
        fleet_max_w=sum(m.max_power_w for m in fleet.configs),
        elapsed_s=time.perf_counter() - began,
        notes=dict(policy.notes),
    )


def _counters(s: PlantState) -> tuple[float, ...]:
    return (
        s.pv_wh,
        s.house_load_wh,
        s.miners_wh,
        s.battery_in_wh,
        s.battery_out_wh,
        s.grid_import_wh,
        s.grid_export_wh,
        s.curtailed_wh,
        s.unserved_wh,
    )
