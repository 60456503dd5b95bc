"""The hindsight optimum: a linear program over the whole period, solved with HiGHS in
windows whose stitched plan carries a certificate of how close it is to the optimum.

It knows every step's PV and house load in advance and chooses, per step, the miners' power,
battery charge and discharge, export and import, to maximise

    mining revenue + export income - import cost

which is mining revenue minus the export value it gives up (and minus any import it causes),
with the same plant limits the simulator applies: PV charges the battery (DC-coupled, so
charge <= PV), battery power and SoC limits with the same efficiency split, the inverter's AC
limit, the export limit. Any energy left over is curtailed (the balance is an inequality).

Relaxations (each makes the oracle an upper bound, never a lower one):

- Miner power is continuous in ``[0, count * max_power_w]`` per model: no minimum power, no
  start delays, no start limit. Hashrate follows each miner's concave piecewise-linear curve
  (``oracle_curves``; without one, the constant-J/TH line of its nominal rating).
- Battery reserve: mining may draw on the battery only while the SoC at the start of the step
  is at or above the reserve; the house may use the battery down to its floor, as on the
  plant. "Only while" is a yes/no decision per step (mine nothing from the battery, or start
  the step at or above the reserve), which a linear program cannot state. It is solved in two
  passes:

  1. The convex relaxation: mining may draw ``y * M`` from the battery with the SoC at least
     ``floor + y * (reserve - floor)``, ``0 <= y <= 1`` (M = the miners' or the battery's
     maximum power, whichever is lower; ``y`` is eliminated into one row per step). Every
     plan that respects the reserve is a feasible point, so no policy can beat its value
     (kept as ``notes["relaxed_bound"]``). It is loose: a small miner may trickle from the
     battery all night just under the reserve.
  2. If the relaxed plan mines from the battery below the reserve anywhere, the yes/no is
     fixed per step from it and the program solved again with only bounds changed: where
     the relaxed plan starts the step at or above the reserve, the stored energy at the
     step's start gets the reserve as a hard lower bound; everywhere else the mining
     discharge is 0, so the miners there run from PV (or grid) only. Every feasible point
     of this program respects the reserve exactly (checked again on the result), and the
     relaxed plan with its below-reserve battery mining removed is one of them, so the
     reported plan (``notes["objective"]``) is at least that good and at most the bound.

- Off-grid, load left unserved is priced far above any mining revenue (the program serves
  the house first, then mines); that penalty is not part of the reported objective. (A
  price of 1000/kWh, as before, made HiGHS ten times slower and lost revenue to tolerances.)
- Miner power is continuous, so the plan may switch a miner on and off from step to step
  whenever that is worth nothing either way: its starts are not a schedule anyone would run,
  and the KPIs report them as not applicable (``notes["continuous_power"]``).
- Within a step the battery either charges or discharges: the program may do both when
  energy is free (it would be curtailed anyway); the trace reports the net flow with the
  same change of stored energy, the difference curtailed.
- The terminal SoC is free.

Windows (``oracle_lp``): one program over a year at 5-minute steps has some 736k columns and
HiGHS needs about 2 GB and 40 s for it. The period is instead solved window by window (three
days at the period's step, then three more in hourly steps as a cheap look-ahead), each from
the stored energy the previous one left; a window commits its first two days or more, cut
preferably where its battery is full or empty, and the rest of it is look-ahead. The
reserve's repair (above) is done per committed chunk, from that window's relaxed plan. Each
window's simplex starts from the previous window's optimal basis (``WindowLp.start_from``),
the repair's from the relaxed solve's: the same optima in about half the iterations. The
plan is feasible for the whole period by construction, and its distance from the optimum is
proven, not assumed: every window's dual multipliers, restricted to the steps it committed,
form one dual vector for the whole period, and by Lagrangian duality that vector bounds the
optimum from above (``oracle_lp`` module doc). Two bounds are kept:

- ``notes["gap_pct"]``: how far the plan's objective (the program's, so including the
  unserved penalty and the throughput epsilon) may be below the optimum of its program
  (relaxation plus the repair's fixings), in % of that bound. If it exceeds
  ``gap_tolerance_pct`` (0.1 %), the period is solved again with windows twice as long,
  up to a single window (the monolithic program).
- ``notes["relaxed_bound"]``: the relaxation's certified bound in site value (the relaxed
  windows' multipliers): no plan that respects the reserve can be worth more.

Multiple miners with the same curve share one set of segment variables; the trace splits
their power into whole machines (the first ``ceil(P / max_power_w)`` run) to count starts.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass

import numpy as np

from edge_mining.analysis.engine import Trace
from edge_mining.analysis.kpis import attribute_mining
from edge_mining.analysis.oracle_curves import Curve, MinerGroup, group_miners
from edge_mining.analysis.oracle_lp import (
    CHARGE,
    DIS_HOUSE,
    DIS_MINING,
    EXPORT,
    IMPORT,
    OracleError,
    Program,
    StepBasis,
    WindowLp,
    WindowSolution,
    build_program,
)
from edge_mining.analysis.scenario import Scenario
from edge_mining.config import MinerConfig, PlantConfig

__all__ = ["OracleError", "solve_oracle"]

Progress = Callable[[int, int], None]


def solve_oracle(
    scenario: Scenario,
    plant: PlantConfig,
    miners: Sequence[MinerConfig],
    *,
    btc_value_per_th_s: float,
    export_price_per_kwh: float,
    import_price_per_kwh: float,
    reserve_soc_pct: float,
    curves: Mapping[str, Curve] | None = None,
    window_days: float = 3.0,
    lookahead_days: float = 3.0,
    commit_share: float = 0.67,
    longest_window_days: float = 6.0,
    max_window_steps: int = 5760,
    gap_tolerance_pct: float = 0.1,
    time_limit_s: float = 600.0,
    repair_rounds: int = 5,
    progress: Progress | None = None,
) -> Trace:
    """Solve the program and return its trace (see the module doc).

    ``curves``: per miner name, ``(power_w, hashrate_ths)`` breakpoints of a concave curve.
    ``window_days``: the first window length (0 or less: one window, the whole period).
    ``max_window_steps``: no window is longer (HiGHS needs some 4 MB per day at 5-minute
    steps): the memory stays bounded even when the gap asks for longer windows, and the gap
    reached is then reported as it is (``notes["gap_pct"]``).
    ``progress(done_steps, total_steps)`` is called after each window.
    """
    began = time.perf_counter()
    groups = group_miners(miners, curves)
    prog = build_program(
        scenario.pv_w,
        scenario.load_w,
        scenario.step_s,
        plant,
        groups,
        btc_value_per_th_s=btc_value_per_th_s,
        export_price_per_kwh=export_price_per_kwh,
        import_price_per_kwh=import_price_per_kwh,
        reserve_soc_pct=reserve_soc_pct,
    )
    n = prog.steps
    per_day = 86400.0 / scenario.step_s
    factor = max(1, round(3600.0 / scenario.step_s))
    if window_days <= 0:
        window_days, max_window_steps = n / per_day, n
    window = max(1, round(window_days * per_day))
    lookahead = max(0, round(lookahead_days * per_day))
    while True:
        fine = min(window, n, max_window_steps)
        w = _Windows(
            fine, max(1, round(fine * commit_share)), lookahead, factor,
            gap_tolerance_pct / 100, max(fine, min(n, round(longest_window_days * per_day))),
        )  # fmt: skip
        plan = _sweep(prog, w, repair_rounds, time_limit_s, progress)
        if plan.gap_pct <= gap_tolerance_pct or fine >= min(n, max_window_steps):
            break
        window, lookahead = window * 2, lookahead * 2
    return _trace(scenario, plant, prog, plan, time.perf_counter() - began)


@dataclass
class _Plan:
    power: np.ndarray  # steps x per_step
    stored: np.ndarray
    objective_lp: float  # the program's objective (site value - penalty - epsilon)
    value: float  # site value
    bound_lp: float  # certified upper bound on the program with the repair's fixings
    relaxed_bound_lp: float  # certified upper bound on the relaxation
    windows: int
    window_steps: int
    longest_window_steps: int
    repair_rounds: int

    @property
    def gap_pct(self) -> float:
        gap = max(0.0, self.bound_lp - self.objective_lp)
        return 100.0 * gap / max(abs(self.bound_lp), 1e-9)


class _Bound:
    """Adds up a whole-period dual bound from the windows' committed chunks."""

    def __init__(self) -> None:
        self.total = 0.0
        self._seam: tuple[float, float, float] | None = None

    def add(self, sol: WindowSolution, c: int) -> None:
        if self._seam is not None:  # the previous chunk's last stored energy
            d, lo, up = self._seam
            d += sol.start_price()
            self.total += min(d * lo, d * up)
        terms, d_last, lo, up = sol.chunk_bound(c, global_start=sol.a == 0)
        self.total += terms
        self._seam = (d_last, lo, up)

    def close(self) -> float:
        if self._seam is not None:
            d, lo, up = self._seam
            self.total += min(d * lo, d * up)
            self._seam = None
        return self.total


@dataclass(frozen=True)
class _Windows:
    fine: int  # steps solved at the period's own step
    shortest: int  # the fewest of them committed
    lookahead: int  # steps after the fine ones, solved coarsely
    factor: int  # fine steps per coarse step
    seam_share: float  # of a chunk's objective, the most one seam may add to the gap
    longest: int  # fine steps a window may grow to when its seam is costly


@dataclass(frozen=True)
class _Solved:
    """One window solved: its relaxed plan, how much of it to commit, and the plan after the
    reserve's repair (the same object when nothing needed repair)."""

    relaxed: WindowSolution
    commit: int
    final: WindowSolution
    rounds: int
    fine: int


def _sweep(
    prog: Program, w: _Windows, repair_rounds: int, time_limit_s: float, progress: Progress | None
) -> _Plan:
    """Solve window after window, committing each one's first steps (module doc).

    Before a chunk is committed, the next window is solved from its end and the seam's term
    of the bound is checked: if it costs more than a share of the tolerance (the two
    windows disagree on what stored energy is worth there), the window is solved again with
    twice as many fine steps and cut later, until the seam is cheap or the window has reached
    ``longest`` steps (which bounds the memory). Few seams need it; most cost nothing.
    """
    n, per = prog.steps, prog.per_step
    power = np.zeros((n, per))
    stored = np.zeros(n)
    relaxed_bound, final_bound = _Bound(), _Bound()
    windows, rounds, longest = 0, 0, w.fine
    basis: StepBasis | None = None  # the last window's optimal basis

    def solve(a: int, start: float, fine: int) -> _Solved:
        nonlocal windows, basis
        b = min(n, a + fine)
        coarse = (b, min(n, b + w.lookahead), w.factor)
        lp = WindowLp(
            prog, a, b, start, coarse_end=coarse[1], coarse_factor=w.factor,
            time_limit_s=time_limit_s,
        )  # fmt: skip
        if basis is not None:
            lp.start_from(basis)  # the previous window's, where the two overlap
        relaxed = lp.solve()
        basis = lp.first_basis
        windows += 1
        # The last fine steps see the coarse look-ahead's prices: never cut there.
        latest = max(w.shortest, b - a - w.shortest // 8)
        c = b - a if b == n else _cut(prog, relaxed.stored, w.shortest, latest)
        final, used = relaxed, 0
        if repair_rounds > 0:
            final, used = _repair(prog, lp, relaxed, c, repair_rounds)
        return _Solved(relaxed, c, final, used, fine)

    if progress:
        progress(0, n)
    a = 0
    cur = solve(0, prog.e0, w.fine)
    while True:
        c = cur.commit
        nxt = None
        if a + c < n:
            nxt = solve(a + c, float(cur.final.stored[c - 1]), w.fine)
            budget = 0.5 * w.seam_share * abs(_fine_objective(prog, cur.final, c))
            if _seam_term(prog, cur.final, c, nxt.final) > budget and cur.fine < w.longest:
                cur = solve(a, cur.relaxed.start_wh, min(2 * cur.fine, w.longest))
                longest = max(longest, cur.fine)
                continue
        relaxed_bound.add(cur.relaxed, c)
        final_bound.add(cur.final, c)
        rounds = max(rounds, cur.rounds)
        power[a : a + c] = cur.final.power[:c]
        stored[a : a + c] = cur.final.stored[:c]
        a += c
        if progress:
            progress(a, n)
        if nxt is None:
            break
        cur = nxt
    cost = np.tile(prog.step_cost, n) @ power.ravel()
    value = np.tile(prog.step_value, n) @ power.ravel()
    scale = prog.cost_scale
    return _Plan(
        power=power,
        stored=stored,
        objective_lp=-float(cost),
        value=float(value),
        bound_lp=-final_bound.close() * scale,
        relaxed_bound_lp=-relaxed_bound.close() * scale,
        windows=windows,
        window_steps=w.fine,
        longest_window_steps=longest,
        repair_rounds=rounds,
    )


def _fine_objective(prog: Program, sol: WindowSolution, c: int) -> float:
    """The program's objective (currency) over a window's first ``c`` steps."""
    return -float((sol.power[:c] @ prog.step_cost).sum())


def _seam_term(prog: Program, left: WindowSolution, c: int, right: WindowSolution) -> float:
    """What the seam after ``left``'s first ``c`` steps adds to the bound (currency)."""
    d = -float(left.y_eq[c - 1]) + right.start_price()
    e = float(left.stored[c - 1])
    lo, up = float(left.lower[-left.steps + c - 1]), float(left.upper[-left.steps + c - 1])
    return (d * e - min(d * lo, d * up)) * prog.cost_scale


def _cut(prog: Program, stored: np.ndarray, shortest: int, longest: int) -> int:
    """How many steps to commit: the latest step in range that ends with the battery full or
    empty (where the next window's start rarely changes what this one planned), else the
    step closest to either."""
    candidates = stored[shortest - 1 : longest]
    room = np.minimum(candidates - prog.e_min, prog.e_max - candidates)
    tolerance = 1e-6 * prog.capacity_wh + 1e-3
    at_bound = np.flatnonzero(room <= tolerance)
    best = int(at_bound[-1]) if len(at_bound) else int(np.argmin(room))
    return shortest + best


def _repair(
    prog: Program, lp: WindowLp, relaxed: WindowSolution, c: int, repair_rounds: int
) -> tuple[WindowSolution, int]:
    """The reserve's repair (module doc) on the first ``c`` steps of the window ``lp`` has
    just solved (``relaxed``): only bounds change, so each round starts from the last basis."""
    flows = _net_flows(prog, relaxed, c)
    bad = _mining_below_reserve(flows, prog.e_res)
    if not bad.any():
        return relaxed, 0
    m = relaxed.steps
    above = flows.stored_start >= prog.e_res - 1e-6
    no_mining = np.zeros(m, dtype=bool)
    no_mining[:c] = ~above
    floor = np.full(m, np.nan)
    floor[: c - 1][above[1:]] = prog.e_res
    rounds = 0
    sol = relaxed
    while bad.any() and rounds < repair_rounds:
        lp.set_restrictions(floor, no_mining)
        sol = lp.solve()
        rounds += 1
        # Solver tolerance only: forbid what still shows, then solve again.
        bad = _mining_below_reserve(_net_flows(prog, sol, c), prog.e_res)
        no_mining[:c] |= bad
    if bad.any():
        raise OracleError(f"oracle: {int(bad.sum())} steps still mine below the reserve")
    return sol, rounds


def _trace(
    scenario: Scenario, plant: PlantConfig, prog: Program, plan: _Plan, elapsed_s: float
) -> Trace:
    n = prog.steps
    g = len(prog.groups)
    s = prog.segments
    flows = _flows(prog, plan.power, plan.stored, prog.e0, prog.pv, prog.house)
    capacity = prog.capacity_wh
    pct = 100.0 / capacity if capacity > 0 else 0.0
    running, starts, names = _machines(scenario, prog.groups, flows.group_w)
    hashrate = plan.power[:, :s] @ prog.seg_ths_per_w if s else np.zeros(n)
    grid = plant.grid_connected
    slack = plan.value - plan.objective_lp  # the penalty and epsilon the objective excludes
    return Trace(
        policy="oracle",
        scenario=scenario,
        miner_names=names,
        pv_w=prog.pv.copy(),
        house_w=prog.house.copy(),
        miners_w=flows.miners,
        hashrate_ths=np.asarray(hashrate, float) if g else np.zeros(n),
        battery_in_w=flows.charge,
        battery_out_w=flows.discharge,
        grid_import_w=flows.grid_import if grid else np.zeros(n),
        grid_export_w=flows.export,
        curtailed_w=flows.curtailed,
        unserved_w=np.zeros(n) if grid else flows.grid_import,
        soc_start_pct=flows.stored_start * pct,
        soc_end_pct=flows.stored * pct,
        running=running,
        starts=starts,
        fleet_max_w=prog.miners_max_w,
        elapsed_s=elapsed_s,
        notes={
            "objective": plan.value,
            "relaxed_bound": plan.value + max(0.0, plan.relaxed_bound_lp - plan.objective_lp),
            "program_objective": plan.objective_lp,
            "program_bound": plan.bound_lp,
            "gap_pct": plan.gap_pct,
            "penalty_and_epsilon": slack,
            "windows": float(plan.windows),
            "window_days": plan.window_steps * scenario.step_s / 86400.0,
            "longest_window_days": plan.longest_window_steps * scenario.step_s / 86400.0,
            "repair_rounds": float(plan.repair_rounds),
            "continuous_power": 1.0,
        },
    )


@dataclass(frozen=True)
class _Flows:
    """A solution as the plant would run it: one battery direction per step."""

    group_w: np.ndarray  # steps x groups
    miners: np.ndarray
    charge: np.ndarray
    discharge: np.ndarray
    export: np.ndarray
    grid_import: np.ndarray
    curtailed: np.ndarray
    stored: np.ndarray  # at the end of each step
    stored_start: np.ndarray
    pv: np.ndarray
    house: np.ndarray


def _net_flows(prog: Program, sol: WindowSolution, c: int) -> _Flows:
    """The flows of a window's first ``c`` steps."""
    a = sol.a
    return _flows(
        prog, sol.power[:c], sol.stored[:c], sol.start_wh, prog.pv[a : a + c],
        prog.house[a : a + c],
    )  # fmt: skip


def _flows(
    prog: Program,
    power: np.ndarray,
    stored: np.ndarray,
    e0: float,
    pv: np.ndarray,
    house: np.ndarray,
) -> _Flows:
    """Net the battery's charge and discharge within each step, keeping the stored energy's
    change (eta * charge - discharge / eta); the energy no longer cycled is curtailed."""
    s, eta = prog.segments, prog.eta
    g = len(prog.groups)
    group_w = np.zeros((len(stored), g))
    for j in range(g):
        group_w[:, j] = power[:, :s][:, prog.seg_group == j].sum(axis=1)
    miners = group_w.sum(axis=1)
    charge_in = power[:, s + CHARGE]
    out = power[:, s + DIS_HOUSE] + power[:, s + DIS_MINING]
    delta = eta * charge_in - out / eta  # Wh per step hour
    charge = np.maximum(delta, 0.0) / eta
    discharge = np.maximum(-delta, 0.0) * eta
    export, grid_import = power[:, s + EXPORT], power[:, s + IMPORT]
    curtailed = np.maximum(pv + discharge + grid_import - house - miners - charge - export, 0.0)
    stored_start = np.concatenate([[e0], stored[:-1]])
    return _Flows(
        group_w, miners, charge, discharge, export, grid_import, curtailed, stored,
        stored_start, pv, house,
    )  # fmt: skip


def _mining_below_reserve(flows: _Flows, e_res: float) -> np.ndarray:
    """Steps where the miners draw on the battery, attributed as the KPIs do, with the
    stored energy at the step's start below the reserve."""
    shares = attribute_mining(
        flows.pv, flows.house, flows.miners, flows.charge, flows.discharge, flows.export,
        flows.grid_import, flows.curtailed,
    )  # fmt: skip
    return (shares.from_battery_w > 0.5) & (flows.stored_start < e_res - 1e-6)


def _machines(
    scenario: Scenario, groups: Sequence[MinerGroup], group_w: np.ndarray
) -> tuple[np.ndarray, np.ndarray, tuple[str, ...]]:
    """Whole machines running per step, and starts per local day, from pooled power."""
    n = scenario.steps
    names: list[str] = []
    columns: list[np.ndarray] = []
    for j, gr in enumerate(groups):
        active = np.ceil(group_w[:, j] / gr.max_power_w - 1e-6).clip(0, len(gr.names))
        for index, name in enumerate(gr.names):
            names.append(name)
            columns.append(active > index)
    running = np.column_stack(columns) if columns else np.zeros((n, 0), dtype=bool)
    started = running & ~np.vstack([np.zeros((1, running.shape[1]), bool), running[:-1]])
    days = max(1, math.ceil(scenario.days))
    day_of_step = (np.arange(n) * scenario.step_s // 86400).astype(int).clip(0, days - 1)
    starts = np.zeros((days, running.shape[1]), dtype=np.int64)
    np.add.at(starts, day_of_step, started.astype(np.int64))
    return running, starts, tuple(names)
