"""The hindsight optimum: a linear program over the whole period, solved with HiGHS.

It knows every step's PV and house load in advance and chooses, per step, the miners' power,
battery charge and discharge, export and import, to maximise

    mining revenue + export income - import cost

which is mining revenue minus the export value it gives up (and minus any import it causes),
with the same plant limits the simulator applies: PV charges the battery (DC-coupled, so
charge <= PV), battery power and SoC limits with the same efficiency split, the inverter's AC
limit, the export limit. Any energy left over is curtailed (the balance is an inequality).

Relaxations (each makes the oracle an upper bound, never a lower one):

- Miner power is continuous in ``[0, count * max_power_w]`` per model: no minimum power, no
  start delays, no start limit.
- Battery reserve: mining may draw on the battery only while the SoC at the start of the step
  is at or above the reserve; the house may use the battery down to its floor, as on the
  plant. "Only while" is a yes/no decision, which a linear program cannot state; its convex
  relaxation is used: mining may draw ``y * M`` from the battery with the SoC at least
  ``floor + y * (reserve - floor)``, ``0 <= y <= 1`` (M = the miners' or the battery's
  maximum power, whichever is lower). ``y`` is eliminated into one row per step. A policy
  that respects the reserve is a feasible point of the program, so it cannot beat its value
  (kept as ``notes["relaxed_bound"]``). Where the relaxed plan does mine from the battery
  below the reserve, those steps are forbidden to and the program is solved again (at most
  ``repair_rounds`` times), so the oracle's reported plan respects the reserve exactly.
- The terminal SoC is free.

Multiple miners of one model share one power variable; the trace splits it into whole
machines (the first ``ceil(P / max_power_w)`` run) to count starts.
"""

from __future__ import annotations

import math
import time
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
from scipy import sparse
from scipy.optimize import linprog

from edge_mining.analysis.engine import Trace
from edge_mining.analysis.scenario import Scenario
from edge_mining.config import MinerConfig, PlantConfig

# A tiny cost on battery throughput (currency per kWh): among equally valuable plans, prefer
# the one that does not cycle the battery for nothing.
_THROUGHPUT_EPS = 1e-6


class OracleError(RuntimeError):
    """The linear program could not be solved."""


@dataclass(frozen=True)
class MinerGroup:
    """Identical miners pooled into one power variable."""

    names: tuple[str, ...]
    max_power_w: float
    ths_per_w: float
    revenue_per_wh: float  # currency


def group_miners(miners: Sequence[MinerConfig], btc_value_per_th_s: float) -> list[MinerGroup]:
    """Pool miners with the same power range and efficiency.

    ``btc_value_per_th_s``: currency earned by 1 TH/s during one second.
    """
    groups: dict[tuple[float, float], list[MinerConfig]] = {}
    for m in miners:
        key = (m.max_power_w, m.nominal_hashrate_ths / m.nominal_power_w)
        groups.setdefault(key, []).append(m)
    out = []
    for (max_w, ths_per_w), members in groups.items():
        out.append(
            MinerGroup(
                names=tuple(m.name for m in members),
                max_power_w=max_w,
                ths_per_w=ths_per_w,
                revenue_per_wh=ths_per_w * btc_value_per_th_s * 3600.0,
            )
        )
    return out


def solve_oracle(
    scenario: Scenario,
    plant: PlantConfig,
    miners: Sequence[MinerConfig],
    *,
    btc_value_per_th_s: float,
    export_price_per_kwh: float,
    import_price_per_kwh: float,
    reserve_soc_pct: float,
    time_limit_s: float = 600.0,
    repair_rounds: int = 5,
) -> Trace:
    """Solve the program and return its trace (see the module doc)."""
    began = time.perf_counter()
    groups = group_miners(miners, btc_value_per_th_s)
    n = scenario.steps
    g = len(groups)
    h = scenario.hours_per_step
    pv = scenario.pv_w.astype(float)
    house = scenario.load_w.astype(float)

    eta = math.sqrt(plant.battery_efficiency)
    capacity = plant.battery_kwh * 1000.0
    e_min = capacity * plant.battery_min_soc_pct / 100.0
    e_max = capacity * plant.battery_max_soc_pct / 100.0
    e_res = max(e_min, min(e_max, capacity * reserve_soc_pct / 100.0))
    e0 = min(e_max, max(e_min, capacity * plant.battery_initial_soc_pct / 100.0))
    has_battery = capacity > 0
    c_max = plant.battery_max_charge_w if has_battery else 0.0
    d_max = plant.battery_max_discharge_w if has_battery else 0.0
    miners_max = sum(gr.max_power_w * len(gr.names) for gr in groups)

    # Variables, step-major: [m_1..m_g, charge, discharge_house, discharge_mining, export,
    # import], then the stored energy at the end of each step.
    per = g + 5
    ic, idh, idm, ix, ii = g, g + 1, g + 2, g + 3, g + 4
    nv = per * n + n
    col = np.arange(n) * per
    e_col = per * n + np.arange(n)

    lower = np.zeros(nv)
    upper = np.full(nv, np.inf)
    for j, gr in enumerate(groups):
        upper[col + j] = gr.max_power_w * len(gr.names)
    upper[col + ic] = np.minimum(c_max, pv)
    upper[col + idh] = np.minimum(d_max, np.maximum(house - pv, 0.0))
    upper[col + idm] = min(d_max, miners_max)
    export_cap = plant.export_limit_w if plant.export_limit_w is not None else np.inf
    upper[col + ix] = export_cap if plant.grid_connected else 0.0
    # Off-grid, "import" is load left unserved, priced prohibitively.
    import_price = import_price_per_kwh if plant.grid_connected else 1000.0
    lower[e_col] = e_min if has_battery else 0.0
    upper[e_col] = e_max if has_battery else 0.0

    cost = np.zeros(nv)
    for j, gr in enumerate(groups):
        cost[col + j] = -gr.revenue_per_wh * h
    cost[col + ix] = -export_price_per_kwh / 1000.0 * h
    cost[col + ii] = import_price / 1000.0 * h
    value = -cost.copy()  # currency per variable unit: what the plan is worth
    for k in (ic, idh, idm):
        cost[col + k] = _THROUGHPUT_EPS / 1000.0 * h
    # Serving the house from the battery is labelled as such, not as mining discharge.
    cost[col + idm] *= 2.0

    rows_ub: list[sparse.coo_matrix] = []
    rhs_ub: list[np.ndarray] = []
    steps = np.arange(n)

    def block(entries: list[tuple[np.ndarray, float | np.ndarray]]) -> sparse.coo_matrix:
        r = np.concatenate([steps for _ in entries])
        c = np.concatenate([cols for cols, _ in entries])
        v = np.concatenate([np.broadcast_to(np.asarray(val, float), n) for _, val in entries])
        return sparse.coo_matrix((v, (r, c)), shape=(n, nv))

    # Balance: house + miners + charge + export - discharges - import <= PV (rest curtailed).
    balance = [(col + j, 1.0) for j in range(g)]
    balance += [(col + ic, 1.0), (col + ix, 1.0), (col + idh, -1.0), (col + idm, -1.0)]
    balance += [(col + ii, -1.0)]
    rows_ub.append(block(balance))
    rhs_ub.append(pv - house)
    # Battery power: the two discharges share the battery's limit.
    rows_ub.append(block([(col + idh, 1.0), (col + idm, 1.0)]))
    rhs_ub.append(np.full(n, d_max))
    # Inverter AC output: loads it serves plus export.
    inverter = [(col + j, 1.0) for j in range(g)] + [(col + ix, 1.0), (col + ii, -1.0)]
    rows_ub.append(block(inverter))
    rhs_ub.append(plant.inverter_max_w - house)
    # Reserve (relaxed): K * dm_t <= M * (E_start(t) - E_min).
    m_cap = min(d_max, miners_max)
    k_span = e_res - e_min
    if has_battery and k_span > 0 and m_cap > 0:
        r = np.concatenate([steps, steps[1:]])
        c = np.concatenate([col + idm, e_col[:-1]])
        v = np.concatenate([np.full(n, k_span), np.full(n - 1, -m_cap)])
        rows_ub.append(sparse.coo_matrix((v, (r, c)), shape=(n, nv)))
        rhs = np.full(n, -m_cap * e_min)
        rhs[0] = m_cap * (e0 - e_min)  # the first step starts from the initial energy
        rhs_ub.append(rhs)

    # Stored energy: E_t - E_{t-1} - eta*h*charge + h/eta*(discharges) = 0.
    r = np.concatenate([steps, steps[1:], steps, steps, steps])
    c = np.concatenate([e_col, e_col[:-1], col + ic, col + idh, col + idm])
    v = np.concatenate(
        [
            np.ones(n),
            -np.ones(n - 1),
            np.full(n, -eta * h),
            np.full(n, h / eta),
            np.full(n, h / eta),
        ]
    )
    a_eq = sparse.coo_matrix((v, (r, c)), shape=(n, nv)).tocsr()
    b_eq = np.zeros(n)
    b_eq[0] = e0 if has_battery else 0.0

    a_ub = sparse.vstack(rows_ub).tocsr()
    b_ub = np.concatenate(rhs_ub)

    def solve() -> np.ndarray:
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
            raise OracleError(f"oracle LP not solved: {result.message}")
        return result.x

    x = solve()
    relaxed_bound = float(value @ x)
    rounds = 0
    # Repair: where the relaxed solution mines from the battery below the reserve, forbid
    # it and solve again. The result respects the reserve exactly; the first value stays
    # the proven upper bound.
    while rounds < repair_rounds:
        bad = _mining_below_reserve(x, col, g, pv, house, e0, e_col, e_res, ic, idh, idm, ix, ii)
        if not bad.any():
            break
        upper[(col + idm)[bad]] = 0.0
        x = solve()
        rounds += 1
    power = x[: per * n].reshape(n, per)
    stored = x[per * n :]
    group_w = power[:, :g]
    charge = power[:, ic]
    discharge = power[:, idh] + power[:, idm]
    export = power[:, ix]
    grid_import = power[:, ii]
    miners_w = group_w.sum(axis=1)
    curtailed = np.maximum(pv + discharge + grid_import - house - miners_w - charge - export, 0.0)
    stored_start = np.concatenate([[e0], stored[:-1]])
    pct = 100.0 / capacity if has_battery else 0.0

    running, starts, names = _machines(scenario, groups, group_w)
    hashrate = sum(group_w[:, j] * gr.ths_per_w for j, gr in enumerate(groups))
    grid = plant.grid_connected
    return Trace(
        policy="oracle",
        scenario=scenario,
        miner_names=names,
        pv_w=pv.copy(),
        house_w=house.copy(),
        miners_w=miners_w,
        hashrate_ths=np.asarray(hashrate, float) if g else np.zeros(n),
        battery_in_w=charge,
        battery_out_w=discharge,
        grid_import_w=grid_import if grid else np.zeros(n),
        grid_export_w=export,
        curtailed_w=curtailed,
        unserved_w=np.zeros(n) if grid else grid_import,
        soc_start_pct=stored_start * pct,
        soc_end_pct=stored * pct,
        running=running,
        starts=starts,
        fleet_max_w=miners_max,
        elapsed_s=time.perf_counter() - began,
        notes={
            "objective": float(value @ x),
            "relaxed_bound": relaxed_bound,
            "repair_rounds": float(rounds),
        },
    )


def _mining_below_reserve(
    x: np.ndarray,
    col: np.ndarray,
    g: int,
    pv: np.ndarray,
    house: np.ndarray,
    e0: float,
    e_col: np.ndarray,
    e_res: float,
    ic: int,
    idh: int,
    idm: int,
    ix: int,
    ii: int,
) -> np.ndarray:
    """Steps where the miners draw on the battery (attributed as the KPIs do: PV serves the
    house first, then the miners, then the battery) with the SoC below the reserve."""
    miners = sum(x[col + j] for j in range(g)) if g else np.zeros(len(col))
    discharge = x[col + idh] + x[col + idm]
    charge, export = x[col + ic], x[col + ix]
    curtailed = np.maximum(pv + discharge + x[col + ii] - house - miners - charge - export, 0.0)
    pv_to_loads = np.maximum(pv - curtailed - charge - export, 0.0)
    from_pv = np.clip(pv_to_loads - house, 0.0, miners)
    from_battery = np.minimum(miners - from_pv, discharge)
    stored_start = np.concatenate([[e0], x[e_col[:-1]]])
    return (from_battery > 0.5) & (stored_start < e_res - 1e-6)


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
