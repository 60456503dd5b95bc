"""The oracle's linear program over one window of steps, solved with HiGHS (``highspy``),
with the pieces of a dual bound that let windows be stitched into a certified plan for the
whole period.

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

import highspy
import numpy as np
from scipy import sparse

from edge_mining.analysis.oracle_curves import MinerGroup
from edge_mining.config import PlantConfig
from edge_mining.highs_threads import run_on_one_thread

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
    """Solve steps ``[a, b)`` from ``start_wh`` (``WindowLp``), once, with the given
    restrictions (``WindowLp.restrict``)."""
    lp = WindowLp(
        prog, a, b, start_wh, coarse_end=coarse_end, coarse_factor=coarse_factor,
        time_limit_s=time_limit_s,
    )  # fmt: skip
    if stored_floor is not None or no_battery_mining is not None:
        lp.set_restrictions(stored_floor, no_battery_mining)
    return lp.solve()


class WindowLp:
    """One window's program held in a HiGHS instance (called directly: scipy's ``linprog``
    rebuilds and copies the whole model on every call, a fifth of the oracle's time).

    Steps ``[a, b)`` from ``start_wh``, looking further ahead to ``coarse_end`` in steps
    ``coarse_factor`` times longer (a cheap estimate of what stored energy will be worth after
    ``b``; only the fine steps are ever committed). ``solve`` may be called again after
    ``restrict``: only column bounds change, so HiGHS starts its dual simplex from the last
    optimal basis (still dual feasible) instead of from scratch.
    """

    def __init__(
        self,
        prog: Program,
        a: int,
        b: int,
        start_wh: float,
        *,
        coarse_end: int = 0,
        coarse_factor: int = 1,
        time_limit_s: float = 600.0,
    ) -> None:
        self.prog, self.a, self.fine, self.start_wh = prog, a, b - a, start_wh
        pv, house, hours, charge_cap, house_cap = _series(prog, a, b, coarse_end, coarse_factor)
        m = len(pv)
        s = prog.segments
        per = s + 5
        nv = per * m + m
        col = np.arange(m) * per
        e_col = per * m + np.arange(m)
        steps = np.arange(m)
        self.m, self.per = m, per
        self._e_col, self._dm_col = e_col, col + s + DIS_MINING

        lower = np.zeros(nv)
        upper = np.empty(nv)
        for k in range(s):
            upper[col + k] = prog.seg_width_w[k]
        upper[col + s + CHARGE] = charge_cap
        upper[col + s + DIS_HOUSE] = house_cap
        upper[col + s + DIS_MINING] = prog.m_cap
        # Export and import get finite bounds that no optimal plan reaches (so the dual bound
        # needs no infinite terms): exporting bought energy, or buying more than the house
        # and the miners use, only loses money.
        upper[col + s + EXPORT] = np.minimum(prog.export_cap, pv + prog.d_max)
        upper[col + s + IMPORT] = house + (prog.miners_max_w if prog.grid else 0.0)
        lower[e_col] = prog.e_min
        upper[e_col] = prog.e_max
        self._lower0, self._upper0 = lower, upper
        self.lower, self.upper = lower.copy(), upper.copy()

        cost = np.zeros(nv)
        cost[: per * m] = (prog.step_cost[None, :] * (hours / prog.h)[:, None]).ravel()
        cost /= prog.cost_scale
        self.cost = cost

        r_parts: list[np.ndarray] = []
        c_parts: list[np.ndarray] = []
        v_parts: list[np.ndarray] = []
        rhs_ub: list[np.ndarray] = []

        def block(entries: list[tuple[np.ndarray, float | np.ndarray]], rhs: np.ndarray) -> None:
            first = len(rhs_ub) * m
            for cols, val in entries:
                r_parts.append(first + steps[: len(cols)] + (m - len(cols)))
                c_parts.append(cols)
                v_parts.append(np.broadcast_to(np.asarray(val, float), len(cols)))
            rhs_ub.append(rhs)

        # Balance: house + miners + charge + export - discharges - import <= PV (rest
        # curtailed).
        miners = [(col + k, 1.0) for k in range(s)]
        balance = miners + [(col + s + CHARGE, 1.0), (col + s + EXPORT, 1.0)]
        balance += [(col + s + DIS_HOUSE, -1.0), (col + s + DIS_MINING, -1.0)]
        balance += [(col + s + IMPORT, -1.0)]
        block(balance, pv - house)
        # Battery power: the two discharges share the battery's limit.
        block([(col + s + DIS_HOUSE, 1.0), (col + s + DIS_MINING, 1.0)], np.full(m, prog.d_max))
        # Inverter AC output: loads it serves plus export.
        inverter = miners + [(col + s + EXPORT, 1.0), (col + s + IMPORT, -1.0)]
        block(inverter, prog.inverter_w - house)
        # Reserve (relaxed): K * dm_t <= M * (E_start(t) - E_min); the first step starts from
        # start_wh (E_{t-1} exists from the second step on).
        self.m_cap = m_cap = prog.m_cap
        if prog.reserve_row:
            rhs = np.full(m, -m_cap * prog.e_min)
            rhs[0] = m_cap * (start_wh - prog.e_min)
            k_span = prog.e_res - prog.e_min
            block([(col + s + DIS_MINING, k_span), (e_col[:-1], -m_cap)], rhs)
        self.b_ub = np.concatenate(rhs_ub)
        n_ub = len(self.b_ub)

        # Stored energy: E_t - E_{t-1} - eta*h*charge + h/eta*(discharges) = 0.
        eta, h = prog.eta, hours
        r_parts += [n_ub + steps, n_ub + steps[1:], n_ub + steps, n_ub + steps, n_ub + steps]
        c_parts += [e_col, e_col[:-1], col + s + CHARGE, col + s + DIS_HOUSE, col + s + DIS_MINING]
        v_parts += [np.ones(m), -np.ones(m - 1), -eta * h, h / eta, h / eta]
        self.b_eq = np.zeros(m)
        self.b_eq[0] = start_wh

        n_rows = n_ub + m
        self.matrix = sparse.csc_array(
            (np.concatenate(v_parts), (np.concatenate(r_parts), np.concatenate(c_parts))),
            shape=(n_rows, nv),
        )
        inf = highspy.kHighsInf
        lp = highspy.HighsLp()
        lp.num_col_, lp.num_row_ = nv, n_rows
        lp.col_cost_, lp.col_lower_, lp.col_upper_ = cost, lower, upper
        lp.row_lower_ = np.concatenate([np.full(n_ub, -inf), self.b_eq])
        lp.row_upper_ = np.concatenate([self.b_ub, self.b_eq])
        lp.a_matrix_.format_ = highspy.MatrixFormat.kColwise
        lp.a_matrix_.start_ = self.matrix.indptr
        lp.a_matrix_.index_ = self.matrix.indices
        lp.a_matrix_.value_ = self.matrix.data
        self._highs = highspy.Highs()
        for option, value in _HIGHS_OPTIONS.items():
            self._highs.setOptionValue(option, value)
        self._highs.setOptionValue("time_limit", float(time_limit_s))
        if self._highs.passModel(lp) != highspy.HighsStatus.kOk:
            raise OracleError(f"oracle LP rejected by HiGHS (steps {a}..{b})")
        # The optimal basis of the first solve (before any restriction), for the next window.
        self.first_basis: StepBasis | None = None

    def start_from(self, earlier: StepBasis) -> None:
        """Start the first solve from ``earlier``'s optimal basis (a window that began
        before this one and overlaps it): each fine step the two share keeps its columns' and
        rows' statuses, each later fine step starts as the same time of day a day earlier
        (one day's program looks much like the next: about a third fewer simplex iterations
        than from the overlap alone), the look-ahead from slacks. The basis needs not be
        consistent (HiGHS completes an "alien" basis); the optimum is the same either way."""
        shift = self.a - earlier.a
        overlap = min(self.fine, earlier.fine - shift)
        if shift <= 0 or overlap <= 0:
            return
        m, per, pm, pp = self.m, self.per, earlier.m, earlier.per
        blocks = (len(self.b_ub) + m) // m  # row blocks of m (the stored energy's last)
        # Slacks: each column at the bound its cost prefers, stored energy basic, each row
        # basic but the stored energy's equalities.
        cols = np.where(self.cost < 0, _UPPER, _LOWER).astype(np.int8)
        cols[per * m :] = _BASIC
        rows = np.full(blocks * m, _BASIC, np.int8)
        rows[(blocks - 1) * m :] = _LOWER
        t = np.arange(overlap)
        self._copy_step_status(cols, rows, t, earlier.cols, earlier.rows, shift + t, pm, pp)
        day = max(1, round(24.0 / self.prog.h))
        for begin in range(overlap, self.fine, day):
            t = np.arange(max(begin, day), min(begin + day, self.fine))
            self._copy_step_status(cols, rows, t, cols, rows, t - day, m, per)
        basis = highspy.HighsBasis()
        basis.col_status = [_STATUS[v] for v in cols.tolist()]
        basis.row_status = [_STATUS[v] for v in rows.tolist()]
        basis.alien = True
        basis.valid = True
        # A basis HiGHS refuses only costs time: it then solves from its own start.
        self._highs.setBasis(basis)

    def _copy_step_status(
        self,
        cols: np.ndarray,
        rows: np.ndarray,
        steps: np.ndarray,
        src_cols: np.ndarray,
        src_rows: np.ndarray,
        src_steps: np.ndarray,
        src_m: int,
        src_per: int,
    ) -> None:
        """Statuses of ``steps``' columns and rows from ``src_steps`` of a program laid out
        the same way (``src_m`` steps of ``src_per`` power columns)."""
        m, per = self.m, self.per
        k = np.arange(per)
        cols[(steps[:, None] * per + k).ravel()] = src_cols[
            (src_steps[:, None] * src_per + k).ravel()
        ]
        cols[per * m + steps] = src_cols[src_per * src_m + src_steps]
        for block in range(len(rows) // m):
            rows[block * m + steps] = src_rows[block * src_m + src_steps]

    def set_restrictions(
        self, stored_floor: np.ndarray | None, no_battery_mining: np.ndarray | None
    ) -> None:
        """Bounds for the next ``solve``, replacing any set before: ``stored_floor``, per fine
        step, a lower bound on the stored energy at its end (the repair's reserve floor; NaN
        where none); ``no_battery_mining``, per fine step, True where the miners may not draw
        on the battery."""
        fine, e_col, dm_col = self.fine, self._e_col[: self.fine], self._dm_col[: self.fine]
        lower_e = self._lower0[e_col]
        if stored_floor is not None:
            floor = np.nan_to_num(stored_floor, nan=-np.inf)
            lower_e = np.maximum(lower_e, np.minimum(floor[:fine], self.prog.e_max))
        upper_dm = self._upper0[dm_col].copy()
        if no_battery_mining is not None:
            upper_dm[no_battery_mining[:fine]] = 0.0
        self.lower[e_col], self.upper[dm_col] = lower_e, upper_dm
        cols = np.concatenate([e_col, dm_col]).astype(np.int32)
        status = self._highs.changeColsBounds(len(cols), cols, self.lower[cols], self.upper[cols])
        if status != highspy.HighsStatus.kOk:
            raise OracleError("oracle LP: HiGHS refused the repair's bounds")

    @property
    def objective(self) -> float:
        """The last solve's objective: the whole window's, look-ahead included (scaled)."""
        return float(self._highs.getInfo().objective_function_value)

    def solve(self) -> WindowSolution:
        """Solve (again, from the last basis if there is one) and return the fine steps."""
        highs = self._highs
        run_on_one_thread(highs)
        status = highs.getModelStatus()
        if status != highspy.HighsModelStatus.kOptimal:
            raise OracleError(
                f"oracle LP not solved (steps {self.a}..{self.a + self.fine}): "
                f"{highs.modelStatusToString(status)}"
            )
        if self.first_basis is None:
            basis = highs.getBasis()
            self.first_basis = StepBasis(
                np.array([int(v) for v in basis.col_status], np.int8),
                np.array([int(v) for v in basis.row_status], np.int8),
                self.a,
                self.fine,
                self.m,
                self.per,
            )
        solution = highs.getSolution()
        x = np.asarray(solution.col_value, float)
        y = np.asarray(solution.row_dual, float)
        n_ub = len(self.b_ub)
        # Multipliers of the wrong sign (solver tolerance) are clipped: the bound stays valid.
        y[:n_ub] = np.minimum(y[:n_ub], 0.0)
        reduced = self.cost - self.matrix.T @ y
        m, per, fine = self.m, self.per, self.fine
        keep = np.concatenate([np.arange(per * fine), per * m + np.arange(fine)])
        rows_ub = np.concatenate([np.arange(fine) + k * m for k in range(n_ub // m)])
        return WindowSolution(
            a=self.a,
            start_wh=self.start_wh,
            power=x[: per * fine].reshape(fine, per),
            stored=x[per * m : per * m + fine],
            y_ub=y[:n_ub][rows_ub],
            y_eq=y[n_ub : n_ub + fine],
            reduced=reduced[keep],
            lower=self.lower[keep],
            upper=self.upper[keep],
            b_ub=self.b_ub[rows_ub],
            b_eq=self.b_eq[:fine],
            m_cap=self.m_cap,
        )


@dataclass(frozen=True)
class StepBasis:
    """A window's optimal simplex basis (HiGHS's status codes per column and row)."""

    cols: np.ndarray
    rows: np.ndarray
    a: int  # the window's first step
    fine: int  # its fine steps
    m: int  # all its steps (the look-ahead's too)
    per: int  # power columns per step


_LOWER, _BASIC, _UPPER = (
    int(highspy.HighsBasisStatus.kLower),
    int(highspy.HighsBasisStatus.kBasic),
    int(highspy.HighsBasisStatus.kUpper),
)
_STATUS = {int(v): v for v in highspy.HighsBasisStatus.__members__.values()}


# What scipy's linprog(method="highs") set (dual simplex after presolve), quiet; solved on
# one thread (``highs_threads``: an oracle solved first on HiGHS's default pool of several
# threads left the planner's later one-thread solves failing, and the backtest's edge figures
# depended on the order of --policies).
_HIGHS_OPTIONS: dict[str, object] = {
    "output_flag": False,
    "presolve": "on",
    "solver": "simplex",
    "simplex_strategy": 1,  # dual
}
