"""The oracle's plant as an exact unit-commitment MILP over one window: how much of the LP
oracle's value is its relaxation.

The oracle (``oracle``, ``oracle_lp``) is a linear program: a miner's power is continuous
from 0 W on the concave hull of its curve through the origin, so it may "time-share" a miner
below its minimum power, and it ignores start limits. That makes it an upper bound, and a
policy's share of the oracle's gain is then understated by however much the relaxation is
worth. This module measures that, window by window (``benchmarks/oracle_relaxation.py``); it
is an analysis tool, not a policy.

The model is the LP's program (``oracle_lp.build_program``: the same plant columns, bounds,
costs and cost scale per step) with each machine's segment columns replaced by a unit:

- ``u`` binary per machine and step: on or off. On, the machine draws its minimum power and
  hashes the curve's first point, plus continuous segments up to its maximum that follow the
  curve above the minimum (which must be concave there; its flat tail is dropped, as the
  LP's hull drops it: more power buys nothing). A miner with a few discrete levels is
  still continuous between them here, as a power-target miner is.
- start and stop variables (``u_t - u_{t-1} = start_t - stop_t``; every machine is off
  before the window), a minimum on-time and off-time in steps (a start at ``t`` keeps it on
  through ``t + min_on - 1``), and at most ``max_starts_per_day`` starts per machine per
  day (days of the period's step index).
- the battery reserve exactly: a binary per step allows mining discharge only when the
  stored energy at the step's start is at or above the reserve (the LP relaxes it).

The terminal stored energy is free, as in the LP's window. Hashrate is valued at the
program's own price per TH/s and step (read off its segment costs).
"""

from __future__ import annotations

import math
import time
from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np
from scipy import sparse
from scipy.optimize import Bounds, LinearConstraint, milp

from edge_mining.analysis.oracle_curves import group_miners
from edge_mining.analysis.oracle_lp import (
    CHARGE,
    DIS_HOUSE,
    DIS_MINING,
    EXPORT,
    IMPORT,
    OracleError,
    Program,
    build_program,
    solve_window,
)
from edge_mining.config import ControlConfig, MinerConfig

if TYPE_CHECKING:
    from edge_mining.analysis.backtest import Setup

# The plant's columns of one step, in the program's order.
PLANT_COLUMNS = (CHARGE, DIS_HOUSE, DIS_MINING, EXPORT, IMPORT)


@dataclass(frozen=True)
class Commitment:
    """The unit rules the MILP enforces (the controller's, in steps)."""

    steps_per_day: int
    min_on_steps: int = 1
    min_off_steps: int = 1
    max_starts_per_day: int | None = None

    @classmethod
    def from_control(cls, control: ControlConfig, step_s: float) -> Commitment:
        return cls(
            steps_per_day=max(1, round(86400.0 / step_s)),
            min_on_steps=max(1, math.ceil(control.min_on_s / step_s)),
            min_off_steps=max(1, math.ceil(control.min_off_s / step_s)),
            max_starts_per_day=control.max_starts_per_day,
        )


@dataclass(frozen=True)
class Unit:
    """One machine as the MILP sees it: the minimum point, then concave segments."""

    name: str
    min_w: float
    min_ths: float
    segment_w: tuple[float, ...]
    segment_ths_per_w: tuple[float, ...]

    @property
    def max_w(self) -> float:
        return self.min_w + sum(self.segment_w)

    @classmethod
    def of(cls, miner: MinerConfig) -> Unit:
        points = miner.curve().points
        widths: list[float] = []
        slopes: list[float] = []
        for (w0, h0), (w1, h1) in zip(points, points[1:], strict=False):
            slope = (h1 - h0) / (w1 - w0)
            if slopes and slope > slopes[-1] * (1 + 1e-9) + 1e-15:
                raise ValueError(
                    f"{miner.name}: the curve is not concave above its minimum (at {w0:g} W): "
                    "the MILP would need a binary per segment"
                )
            if slope <= 0:
                break  # the flat tail: more power buys nothing
            widths.append(w1 - w0)
            slopes.append(slope)
        return cls(miner.name, points[0][0], points[0][1], tuple(widths), tuple(slopes))


@dataclass(frozen=True)
class MilpSolution:
    """One window's unit-commitment plan and what it is worth (site value, currency)."""

    value: float  # mining revenue + export income - import cost (the program's step_value)
    bound: float  # HiGHS's dual bound in the same units: no plan of the model is worth more
    optimal: bool  # solved to the requested gap (else stopped by the time limit)
    message: str
    elapsed_s: float
    binaries: int
    miners_w: np.ndarray  # steps x machines
    stored_wh: np.ndarray  # at the end of each step
    starts: np.ndarray  # per machine, in the window
    step_value: np.ndarray  # the value of each step (they sum to ``value``)


def setup_program(setup: Setup) -> Program:
    """The oracle's program of a backtest setup: its period, plant, prices and reserve, each
    miner on the concave hull of its curve (as ``backtest.run_policy`` gives the oracle)."""
    sc = setup.scenario
    return build_program(
        sc.pv_w, sc.load_w, sc.step_s, setup.plant,
        group_miners(setup.miners, {m.name: m.curve().hull() for m in setup.miners}),
        btc_value_per_th_s=setup.prices.value_per_th_s,
        export_price_per_kwh=setup.prices.export_price_per_kwh,
        import_price_per_kwh=setup.prices.import_price_per_kwh,
        reserve_soc_pct=setup.reserve_soc_pct,
    )  # fmt: skip


def value_per_ths_step(prog: Program) -> float:
    """The program's price of 1 TH/s for one step (its segment costs over their TH/s per W)."""
    k = int(np.argmax(prog.seg_ths_per_w)) if prog.segments else -1
    if k < 0 or prog.seg_ths_per_w[k] <= 0:
        raise ValueError("the program has no hashing segment to read the hashrate price from")
    return float(-prog.step_cost[k] / prog.seg_ths_per_w[k])


def lp_window_value(prog: Program, a: int, b: int, start_wh: float) -> float:
    """The LP oracle's optimum over steps ``[a, b)`` from ``start_wh`` (site value): the
    program ``solve_window`` solves (its reserve relaxed), terminal energy free."""
    sol = solve_window(prog, a, b, start_wh)
    return float((sol.power @ prog.step_value).sum())


class _Rows:
    """Sparse constraint rows ``lo <= A x <= hi``, added in blocks."""

    def __init__(self) -> None:
        self.r: list[np.ndarray] = []
        self.c: list[np.ndarray] = []
        self.v: list[np.ndarray] = []
        self.lo: list[np.ndarray] = []
        self.hi: list[np.ndarray] = []
        self.count = 0

    def add(
        self,
        n: int,
        lo: float | np.ndarray,
        hi: float | np.ndarray,
        *terms: tuple[np.ndarray, np.ndarray, float | np.ndarray],
    ) -> None:
        """``n`` rows; each term is (local row per entry, column per entry, coefficient)."""
        for rows, cols, val in terms:
            self.r.append(np.asarray(rows, np.int64) + self.count)
            self.c.append(np.asarray(cols, np.int64))
            self.v.append(np.broadcast_to(np.asarray(val, float), len(rows)).copy())
        self.lo.append(np.broadcast_to(np.asarray(lo, float), n).copy())
        self.hi.append(np.broadcast_to(np.asarray(hi, float), n).copy())
        self.count += n

    def constraint(self, columns: int) -> LinearConstraint:
        a = sparse.csr_matrix(
            (np.concatenate(self.v), (np.concatenate(self.r), np.concatenate(self.c))),
            shape=(self.count, columns),
        )
        return LinearConstraint(a, np.concatenate(self.lo), np.concatenate(self.hi))


def solve_window_milp(
    prog: Program,
    miners: Sequence[MinerConfig],
    a: int,
    b: int,
    start_wh: float,
    rules: Commitment,
    *,
    time_limit_s: float = 120.0,
    mip_gap: float = 1e-3,
) -> MilpSolution:
    """Solve steps ``[a, b)`` from ``start_wh`` with every machine of ``miners`` committed
    on/off (see the module doc). Raises ``OracleError`` if HiGHS finds no plan."""
    m = b - a
    t = np.arange(m)
    units = [Unit.of(miner) for miner in miners]
    price_ths = value_per_ths_step(prog)
    s = prog.segments

    n = 0

    def block() -> np.ndarray:
        nonlocal n
        cols = np.arange(n, n + m)
        n += m
        return cols

    on, start, stop = [], [], []
    segs: list[list[np.ndarray]] = []
    for unit in units:
        on.append(block())
        start.append(block())
        stop.append(block())
        segs.append([block() for _ in unit.segment_w])
    plant = {k: block() for k in PLANT_COLUMNS}
    stored = block()
    reserve = block() if prog.reserve_row else None

    lower, upper, cost = np.zeros(n), np.zeros(n), np.zeros(n)
    integrality = np.zeros(n)
    pv, house = prog.pv[a:b], prog.house[a:b]
    miners_max = sum(unit.max_w for unit in units)
    for unit, u, st, sp, gs in zip(units, on, start, stop, segs, strict=True):
        upper[u] = upper[st] = upper[sp] = 1.0
        integrality[u] = 1
        cost[u] = -unit.min_ths * price_ths
        for g, width, slope in zip(gs, unit.segment_w, unit.segment_ths_per_w, strict=True):
            upper[g] = width
            cost[g] = -slope * price_ths
    # The plant columns: the LP window's bounds and the program's costs.
    upper[plant[CHARGE]] = np.minimum(prog.c_max, pv)
    upper[plant[DIS_HOUSE]] = np.minimum(prog.d_max, np.maximum(house - pv, 0.0))
    upper[plant[DIS_MINING]] = prog.m_cap
    upper[plant[EXPORT]] = np.minimum(prog.export_cap, pv + prog.d_max)
    upper[plant[IMPORT]] = house + (miners_max if prog.grid else 0.0)
    for k in PLANT_COLUMNS:
        cost[plant[k]] = prog.step_cost[s + k]
    lower[stored], upper[stored] = prog.e_min, prog.e_max
    if reserve is not None:
        upper[reserve] = 1.0
        integrality[reserve] = 1
    cost /= prog.cost_scale

    rows = _Rows()
    later = t[1:]  # rows that refer to the previous step's columns
    for unit, u, st, sp, gs in zip(units, on, start, stop, segs, strict=True):
        for g, width in zip(gs, unit.segment_w, strict=True):
            rows.add(m, -np.inf, 0.0, (t, g, 1.0), (t, u, -width))  # g <= width * u
        # u_t - u_{t-1} - start_t + stop_t = 0 (off before the window)
        rows.add(m, 0.0, 0.0, (t, u, 1.0), (later, u[:-1], -1.0), (t, st, -1.0), (t, sp, 1.0))
        if rules.min_on_steps > 1:  # a start in the last min_on steps keeps it on
            terms = [(t[d:], st[: m - d], 1.0) for d in range(min(rules.min_on_steps, m))]
            rows.add(m, -np.inf, 0.0, (t, u, -1.0), *terms)
        if rules.min_off_steps > 1:  # a stop in the last min_off steps keeps it off
            terms = [(t[d:], sp[: m - d], 1.0) for d in range(min(rules.min_off_steps, m))]
            rows.add(m, -np.inf, 1.0, (t, u, 1.0), *terms)
        if rules.max_starts_per_day is not None:
            day = (a + t) // rules.steps_per_day
            local = day - day[0]
            rows.add(int(local[-1]) + 1, -np.inf, rules.max_starts_per_day, (local, st, 1.0))

    power_terms = [(t, u, unit.min_w) for unit, u in zip(units, on, strict=True)]
    power_terms += [(t, g, 1.0) for gs in segs for g in gs]
    ch, dh, dm, ex, im = (plant[k] for k in PLANT_COLUMNS)
    # Balance: house + miners + charge + export - discharges - import <= PV.
    rows.add(
        m, -np.inf, pv - house, *power_terms,
        (t, ch, 1.0), (t, ex, 1.0), (t, dh, -1.0), (t, dm, -1.0), (t, im, -1.0),
    )  # fmt: skip
    rows.add(m, -np.inf, prog.d_max, (t, dh, 1.0), (t, dm, 1.0))
    rows.add(m, -np.inf, prog.inverter_w - house, *power_terms, (t, ex, 1.0), (t, im, -1.0))
    # Stored energy: E_t - E_{t-1} - eta*h*charge + h/eta*(discharges) = 0, E_{-1} = start.
    eta, h = prog.eta, prog.h
    first = np.zeros(m)
    first[0] = start_wh
    rows.add(
        m, first, first, (t, stored, 1.0), (later, stored[:-1], -1.0),
        (t, ch, -eta * h), (t, dh, h / eta), (t, dm, h / eta),
    )  # fmt: skip
    if reserve is not None:
        # Mining discharge only from a step that starts at or above the reserve:
        # dm_t <= M z_t and E_{t-1} >= e_min + z_t (e_res - e_min).
        rows.add(m, -np.inf, 0.0, (t, dm, 1.0), (t, reserve, -prog.m_cap))
        hi = np.full(m, -prog.e_min)
        hi[0] = start_wh - prog.e_min
        rows.add(m, -np.inf, hi, (t, reserve, prog.e_res - prog.e_min), (later, stored[:-1], -1.0))

    began = time.perf_counter()
    result = milp(
        cost,
        constraints=rows.constraint(n),
        integrality=integrality,
        bounds=Bounds(lower, upper),
        options={"time_limit": time_limit_s, "mip_rel_gap": mip_gap, "disp": False},
    )
    elapsed = time.perf_counter() - began
    if result.x is None:
        raise OracleError(f"oracle MILP not solved (steps {a}..{b}): {result.message}")
    x = result.x
    miners_w = np.column_stack(
        [
            unit.min_w * np.round(x[u]) + sum((x[g] for g in gs), np.zeros(m))
            for unit, u, gs in zip(units, on, segs, strict=True)
        ]
    )
    hashrate = sum(
        (
            unit.min_ths * np.round(x[u])
            + sum((slope * x[g] for g, slope in zip(gs, unit.segment_ths_per_w, strict=True)),
                  np.zeros(m))
            for unit, u, gs in zip(units, on, segs, strict=True)
        ),
        np.zeros(m),
    )  # fmt: skip
    step_value = hashrate * price_ths
    step_value += sum(x[plant[k]] * float(prog.step_value[s + k]) for k in PLANT_COLUMNS)
    value = float(step_value.sum())
    dual = result.mip_dual_bound if result.mip_dual_bound is not None else result.fun
    return MilpSolution(
        value=value,
        bound=value + (float(result.fun) - float(dual)) * prog.cost_scale,
        optimal=result.status == 0,
        message=str(result.message),
        elapsed_s=elapsed,
        binaries=int(integrality.sum()),
        miners_w=miners_w,
        stored_wh=x[stored],
        starts=np.array([int(np.round(x[st]).sum()) for st in start]),
        step_value=step_value,
    )
