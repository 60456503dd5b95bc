"""The oracle's linear program over one window of steps, solved with HiGHS, with the pieces
of a dual bound that let windows be stitched into a certified plan for the whole period.

Variables, step-major: each miner group's segment powers, then charge, discharge to the
house, discharge to the miners, export and import; after all steps, the stored energy at the
end of each step. The window starts from a given stored energy ``start_wh``. Rows per step:
balance, battery power, inverter, the reserve's convex relaxation, and the stored energy.

The dual bound (``WindowSolution.chunk_bound``): for the program in minimising form,
``min c'x`` s.t. ``A x (<=, =) b``, ``l <= x <= u``, any multipliers ``y`` (``<= 0`` on ``<=``
rows) give the lower bound ``b'y + sum_j min(d_j l_j, d_j u_j)`` with ``d = c - A'y``
(Lagrangian duality: it holds whatever ``y`` is, optimal or not). The whole period's rows
split by step into the windows' committed chunks, so taking ``y`` from the window that
committed each step yields a bound for the whole period. Only two things cross a seam: the
chunk's first rows refer to the previous step's stored energy (a constant ``start_wh`` in
the window, a variable in the whole program), and that variable's reduced cost takes terms
from both sides; both are returned so the caller can add them up.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
from scipy import sparse
from scipy.optimize import linprog

from edge_mining.analysis.oracle_curves import MinerGroup
from edge_mining.config import PlantConfig

# A tiny cost on battery throughput (currency per kWh): among equally valuable plans, prefer
# the one that does not cycle the battery for nothing.
THROUGHPUT_EPS = 1e-6

# Column offsets after the segment columns of one step.
CHARGE, DIS_HOUSE, DIS_MINING, EXPORT, IMPORT = range(5)


class OracleError(RuntimeError):
    """The linear program could not be solved."""


@dataclass(frozen=True)
class Program:
    """The whole period's data and the constants of every window's program."""

    pv: np.ndarray
    house: np.ndarray
    h: float  # hours per step
    eta: float  # one-way battery efficiency
    capacity_wh: float
    e_min: float
    e_max: float
    e_res: float
    e0: float
    c_max: float
    d_max: float
    export_cap: float  # W; 0 off-grid
    inverter_w: float
    grid: bool
    groups: tuple[MinerGroup, ...]
    seg_group: np.ndarray  # group index of each segment column
    seg_width_w: np.ndarray  # pooled over the group's machines
    seg_ths_per_w: np.ndarray
    miners_max_w: float
    step_cost: np.ndarray  # minimising cost per column of one step (unscaled)
    step_value: np.ndarray  # site value per column of one step (currency)
    cost_scale: float

    @property
    def steps(self) -> int:
        return len(self.pv)

    @property
    def segments(self) -> int:
        return len(self.seg_width_w)

    @property
    def per_step(self) -> int:
        return self.segments + 5

    @property
    def has_battery(self) -> bool:
        return self.capacity_wh > 0

    @property
    def m_cap(self) -> float:
        """The most the miners can draw from the battery in one step (W)."""
        return min(self.d_max, self.miners_max_w)

    @property
    def reserve_row(self) -> bool:
        return self.has_battery and self.e_res - self.e_min > 0 and self.m_cap > 0


def build_program(
    pv: np.ndarray,
    house: np.ndarray,
    step_s: float,
    plant: PlantConfig,
    groups: Sequence[MinerGroup],
    *,
    btc_value_per_th_s: float,
    export_price_per_kwh: float,
    import_price_per_kwh: float,
    reserve_soc_pct: float,
) -> Program:
    h = step_s / 3600.0
    eta = math.sqrt(plant.battery_efficiency)
    capacity = plant.battery_kwh * 1000.0
    e_min = capacity * plant.battery_min_soc_pct / 100.0
    e_max = capacity * plant.battery_max_soc_pct / 100.0
    e_res = max(e_min, min(e_max, capacity * reserve_soc_pct / 100.0))
    e0 = min(e_max, max(e_min, capacity * plant.battery_initial_soc_pct / 100.0))
    has_battery = capacity > 0
    seg_group = np.array([j for j, gr in enumerate(groups) for _ in gr.segment_w], dtype=np.int64)
    seg_width = np.array([w * gr.count for gr in groups for w in gr.segment_w], float)
    seg_ths = np.array([s for gr in groups for s in gr.segment_ths_per_w], float)
    seg_value_per_wh = seg_ths * btc_value_per_th_s * 3600.0
    miners_max = float(seg_width.sum())

    # Off-grid, "import" is load left unserved, priced far above anything else a kWh earns,
    # so the house is served first; not so far that HiGHS's tolerances swamp the revenue.
    best_kwh = max([float(seg_value_per_wh.max(initial=0.0)) * 1000.0, export_price_per_kwh])
    unserved_price = max(1.0, 10.0 * max(best_kwh, import_price_per_kwh))
    import_price = import_price_per_kwh if plant.grid_connected else unserved_price

    s = len(seg_width)
    cost = np.zeros(s + 5)
    cost[:s] = -seg_value_per_wh * h
    cost[s + EXPORT] = -export_price_per_kwh / 1000.0 * h
    cost[s + IMPORT] = import_price / 1000.0 * h
    value = -cost.copy()  # currency per variable unit: what the plan is worth
    if not plant.grid_connected:
        value[s + IMPORT] = 0.0  # the unserved penalty steers the plan; it earns nothing
    for k in (CHARGE, DIS_HOUSE):
        cost[s + k] = THROUGHPUT_EPS / 1000.0 * h
    # Serving the house from the battery is labelled as such, not as mining discharge.
    cost[s + DIS_MINING] = 2.0 * THROUGHPUT_EPS / 1000.0 * h
    # HiGHS's optimality tolerances are absolute: costs of 1e-5 per W-step would let it stop
    # short of the optimum. Scale the largest to 1 (the same scale in every window).
    cost_scale = float(np.abs(cost).max()) or 1.0
    export_cap = plant.export_limit_w if plant.export_limit_w is not None else math.inf
    return Program(
        pv=np.asarray(pv, float),
        house=np.asarray(house, float),
        h=h,
        eta=eta,
        capacity_wh=capacity,
        e_min=e_min if has_battery else 0.0,
        e_max=e_max if has_battery else 0.0,
        e_res=e_res if has_battery else 0.0,
        e0=e0 if has_battery else 0.0,
        c_max=plant.battery_max_charge_w if has_battery else 0.0,
        d_max=plant.battery_max_discharge_w if has_battery else 0.0,
        export_cap=export_cap if plant.grid_connected else 0.0,
        inverter_w=plant.inverter_max_w,
        grid=plant.grid_connected,
        groups=tuple(groups),
        seg_group=seg_group,
        seg_width_w=seg_width,
        seg_ths_per_w=seg_ths,
        miners_max_w=miners_max,
        step_cost=cost,
        step_value=value,
        cost_scale=cost_scale,
    )


@dataclass(frozen=True)
class WindowSolution:
    """One window's optimum, with its duals (for the minimising, scaled program)."""

    a: int  # first step (of the whole period); everything below is of the fine steps only
    start_wh: float
    power: np.ndarray  # steps x per_step
    stored: np.ndarray  # at the end of each step
    y_ub: np.ndarray  # blocks of m rows: balance, battery, inverter[, reserve]
    y_eq: np.ndarray
    reduced: np.ndarray  # c - A'y for every column (E columns after the power ones)
    lower: np.ndarray
    upper: np.ndarray
    b_ub: np.ndarray
    b_eq: np.ndarray
    m_cap: float

    @property
    def steps(self) -> int:
        return len(self.stored)

    def start_price(self) -> float:
        """d(bound)/d(start energy): the window's first rows' multipliers on it."""
        m = self.steps
        rho = float(self.y_eq[0])
        if len(self.y_ub) == 4 * m:
            rho += self.m_cap * float(self.y_ub[3 * m])
        return rho

    def chunk_bound(self, c: int, global_start: bool) -> tuple[float, float, float, float]:
        """Lower-bound terms (scaled cost) from the first ``c`` steps' rows and columns.

        Returns ``(terms, d_last, lower_last, upper_last)``: the rows' ``b'y`` plus every
        column's bound term except the stored energy at the chunk's last step, whose reduced
        cost so far (``d_last``, its own step's row only) and bounds go to the caller, which
        adds the next window's ``start_price`` before taking its term. The start energy is a
        constant only at the period's start; elsewhere its multiplier moves to the previous
        chunk's last stored energy (the caller's ``d_last`` of that chunk).
        """
        m = self.steps
        blocks = len(self.y_ub) // m
        rows = np.concatenate([np.arange(c) + k * m for k in range(blocks)])
        terms = float(self.b_ub[rows] @ self.y_ub[rows]) + float(self.b_eq[:c] @ self.y_eq[:c])
        if not global_start:
            terms -= self.start_wh * self.start_price()
        per = self.power.shape[1]
        cols = np.concatenate([np.arange(c * per), per * m + np.arange(c - 1)])
        d, lo, up = self.reduced[cols], self.lower[cols], self.upper[cols]
        terms += float(np.minimum(d * lo, d * up).sum())
        last = per * m + c - 1
        return terms, -float(self.y_eq[c - 1]), float(self.lower[last]), float(self.upper[last])


def _series(prog: Program, a: int, b: int, coarse_end: int, factor: int) -> tuple[np.ndarray, ...]:
    """Per window step: PV, house, hours, charge cap and house-discharge cap. Steps
    ``[a, b)`` as they are, then ``[b, coarse_end)`` in means over ``factor`` steps (the
    caps as means of the fine caps: the coarse steps relax the fine ones)."""
    pv, house = prog.pv[a:b], prog.house[a:b]
    charge_cap = np.minimum(prog.c_max, pv)
    house_cap = np.minimum(prog.d_max, np.maximum(house - pv, 0.0))
    hours = np.full(b - a, prog.h)
    if coarse_end <= b:
        return pv, house, hours, charge_cap, house_cap
    edges = np.arange(b, coarse_end, factor)
    sizes = np.diff(np.append(edges, coarse_end))
    cpv, chouse = prog.pv[b:coarse_end], prog.house[b:coarse_end]

    def mean(x: np.ndarray) -> np.ndarray:
        return np.add.reduceat(x, edges - b) / sizes

    return (
        np.concatenate([pv, mean(cpv)]),
        np.concatenate([house, mean(chouse)]),
        np.concatenate([hours, sizes * prog.h]),
        np.concatenate([charge_cap, mean(np.minimum(prog.c_max, cpv))]),
        np.concatenate([house_cap, mean(np.minimum(prog.d_max, np.maximum(chouse - cpv, 0.0)))]),
    )


def solve_window(
    prog: Program,
    a: int,
    b: int,
    start_wh: float,
    *,
    coarse_end: int = 0,
    coarse_factor: int = 1,
    stored_floor: np.ndarray | None = None,
    no_battery_mining: np.ndarray | None = None,
    time_limit_s: float = 600.0,
) -> WindowSolution:
    """Solve steps ``[a, b)`` from ``start_wh``, looking further ahead to ``coarse_end`` in
    steps ``coarse_factor`` times longer (a cheap estimate of what stored energy will be
    worth after ``b``; only the fine steps are ever committed).

    ``stored_floor``: per fine step, a lower bound on the stored energy at its end (the
    repair's reserve floor; NaN where none). ``no_battery_mining``: per fine step, True where
    the miners may not draw on the battery.
    """
    fine = b - a
    pv, house, hours, charge_cap, house_cap = _series(prog, a, b, coarse_end, coarse_factor)
    m = len(pv)
    s = prog.segments
    per = s + 5
    nv = per * m + m
    col = np.arange(m) * per
    e_col = per * m + np.arange(m)
    steps = np.arange(m)

    lower = np.zeros(nv)
    upper = np.empty(nv)
    for k in range(s):
        upper[col + k] = prog.seg_width_w[k]
    upper[col + s + CHARGE] = charge_cap
    upper[col + s + DIS_HOUSE] = house_cap
    upper[col + s + DIS_MINING] = prog.m_cap
    if no_battery_mining is not None:
        upper[(col + s + DIS_MINING)[:fine][no_battery_mining]] = 0.0
    # Export and import get finite bounds that no optimal plan reaches (so the dual bound
    # needs no infinite terms): exporting bought energy, or buying more than the house and
    # the miners use, only loses money.
    upper[col + s + EXPORT] = np.minimum(prog.export_cap, pv + prog.d_max)
    upper[col + s + IMPORT] = house + (prog.miners_max_w if prog.grid else 0.0)
    lower[e_col] = prog.e_min
    upper[e_col] = prog.e_max
    if stored_floor is not None:
        floor = np.nan_to_num(stored_floor, nan=-np.inf)
        lower[e_col[:fine]] = np.maximum(lower[e_col[:fine]], np.minimum(floor, prog.e_max))

    cost = np.zeros(nv)
    cost[: per * m] = (prog.step_cost[None, :] * (hours / prog.h)[:, None]).ravel()
    cost /= prog.cost_scale

    def block(entries: list[tuple[np.ndarray, float | np.ndarray]]) -> sparse.coo_matrix:
        r = np.concatenate([steps for _ in entries])
        c = np.concatenate([cols for cols, _ in entries])
        v = np.concatenate([np.broadcast_to(np.asarray(val, float), m) for _, val in entries])
        return sparse.coo_matrix((v, (r, c)), shape=(m, nv))

    rows_ub: list[sparse.coo_matrix] = []
    rhs_ub: list[np.ndarray] = []
    # Balance: house + miners + charge + export - discharges - import <= PV (rest curtailed).
    miners = [(col + k, 1.0) for k in range(s)]
    balance = miners + [(col + s + CHARGE, 1.0), (col + s + EXPORT, 1.0)]
    balance += [(col + s + DIS_HOUSE, -1.0), (col + s + DIS_MINING, -1.0)]
    balance += [(col + s + IMPORT, -1.0)]
    rows_ub.append(block(balance))
    rhs_ub.append(pv - house)
    # Battery power: the two discharges share the battery's limit.
    rows_ub.append(block([(col + s + DIS_HOUSE, 1.0), (col + s + DIS_MINING, 1.0)]))
    rhs_ub.append(np.full(m, prog.d_max))
    # Inverter AC output: loads it serves plus export.
    inverter = miners + [(col + s + EXPORT, 1.0), (col + s + IMPORT, -1.0)]
    rows_ub.append(block(inverter))
    rhs_ub.append(prog.inverter_w - house)
    # Reserve (relaxed): K * dm_t <= M * (E_start(t) - E_min).
    m_cap = prog.m_cap
    if prog.reserve_row:
        k_span = prog.e_res - prog.e_min
        r = np.concatenate([steps, steps[1:]])
        c = np.concatenate([col + s + DIS_MINING, e_col[:-1]])
        v = np.concatenate([np.full(m, k_span), np.full(m - 1, -m_cap)])
        rows_ub.append(sparse.coo_matrix((v, (r, c)), shape=(m, nv)))
        rhs = np.full(m, -m_cap * prog.e_min)
        rhs[0] = m_cap * (start_wh - prog.e_min)  # the first step starts from start_wh
        rhs_ub.append(rhs)

    # Stored energy: E_t - E_{t-1} - eta*h*charge + h/eta*(discharges) = 0.
    eta, h = prog.eta, hours
    r = np.concatenate([steps, steps[1:], steps, steps, steps])
    c = np.concatenate(
        [e_col, e_col[:-1], col + s + CHARGE, col + s + DIS_HOUSE, col + s + DIS_MINING]
    )
    v = np.concatenate(
        [np.ones(m), -np.ones(m - 1), -eta * h, h / eta, h / eta]
    )  # fmt: skip
    a_eq = sparse.coo_matrix((v, (r, c)), shape=(m, nv)).tocsr()
    b_eq = np.zeros(m)
    b_eq[0] = start_wh

    a_ub = sparse.vstack(rows_ub).tocsr()
    b_ub = np.concatenate(rhs_ub)
    result = linprog(
        cost,
        A_ub=a_ub,
        b_ub=b_ub,
        A_eq=a_eq,
        b_eq=b_eq,
        bounds=np.column_stack([lower, upper]),
        method="highs",
        options={"time_limit": time_limit_s, "presolve": True},
    )
    if result.status != 0 or result.x is None:
        raise OracleError(f"oracle LP not solved (steps {a}..{b}): {result.message}")
    # Multipliers of the wrong sign (solver tolerance) are clipped: the bound stays valid.
    y_ub = np.minimum(np.asarray(result.ineqlin.marginals, float), 0.0)
    y_eq = np.asarray(result.eqlin.marginals, float)
    reduced = cost - a_ub.T @ y_ub - a_eq.T @ y_eq
    x = result.x
    keep = np.concatenate([np.arange(per * fine), per * m + np.arange(fine)])
    rows_ub = np.concatenate([np.arange(fine) + k * m for k in range(len(b_ub) // m)])
    return WindowSolution(
        a=a,
        start_wh=start_wh,
        power=x[: per * fine].reshape(fine, per),
        stored=x[per * m : per * m + fine],
        y_ub=y_ub[rows_ub],
        y_eq=y_eq[:fine],
        reduced=reduced[keep],
        lower=lower[keep],
        upper=upper[keep],
        b_ub=b_ub[rows_ub],
        b_eq=b_eq[:fine],
        m_cap=m_cap,
    )
