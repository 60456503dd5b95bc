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
from edge_mining.analysis.kpis import attribute_mining
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
    # Off-grid, "import" is load left unserved, priced far above anything else a kWh earns,
    # so the house is served first; not so far that HiGHS's tolerances swamp the revenue.
    best_kwh = max([gr.revenue_per_wh * 1000.0 for gr in groups] + [export_price_per_kwh])
    unserved_price = max(1.0, 10.0 * max(best_kwh, import_price_per_kwh))
    import_price = import_price_per_kwh if plant.grid_connected else unserved_price
    lower[e_col] = e_min if has_battery else 0.0
    upper[e_col] = e_max if has_battery else 0.0

    cost = np.zeros(nv)
    for j, gr in enumerate(groups):
        cost[col + j] = -gr.revenue_per_wh * h
    cost[col + ix] = -export_price_per_kwh / 1000.0 * h
    cost[col + ii] = import_price / 1000.0 * h
    value = -cost.copy()  # currency per variable unit: what the plan is worth
    if not plant.grid_connected:
        value[col + ii] = 0.0  # the unserved penalty steers the plan; it earns nothing
    for k in (ic, idh, idm):
        cost[col + k] = _THROUGHPUT_EPS / 1000.0 * h
    # Serving the house from the battery is labelled as such, not as mining discharge.
    cost[col + idm] *= 2.0

    # HiGHS's optimality tolerances are absolute: costs of 1e-5 per W-step would let it stop
    # short of the optimum by more than the margins measured here. Scale the largest to 1.
    cost_scale = float(np.abs(cost).max()) or 1.0

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
            cost / cost_scale,
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
    flows = _net_flows(x, per, g, pv, house, e0, eta, (ic, idh, idm, ix, ii))
    rounds = 0
    bad = _mining_below_reserve(flows, e_res)
    if bad.any() and repair_rounds > 0:
        # Fix the yes/no per step from the relaxed plan (see the module doc): reserve as a
        # hard floor where it starts the step at or above it, no battery mining elsewhere.
        # Only bounds change; the relaxed row stays (implied where the floor holds).
        above = flows.stored_start >= e_res - 1e-6
        upper[(col + idm)[~above]] = 0.0
        lower[e_col[:-1][above[1:]]] = e_res
        while bad.any() and rounds < repair_rounds:
            x = solve()
            flows = _net_flows(x, per, g, pv, house, e0, eta, (ic, idh, idm, ix, ii))
            rounds += 1
            # Solver tolerance only: forbid what still shows, then solve again.
            bad = _mining_below_reserve(flows, e_res)
            upper[(col + idm)[bad]] = 0.0
    if bad.any() and repair_rounds > 0:
        raise OracleError(f"oracle: {int(bad.sum())} steps still mine below the reserve")
    group_w = flows.group_w
    miners_w = flows.miners
    charge, discharge = flows.charge, flows.discharge
    export, grid_import, curtailed = flows.export, flows.grid_import, flows.curtailed
    stored_start, stored = flows.stored_start, flows.stored
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


def _net_flows(
    x: np.ndarray,
    per: int,
    g: int,
    pv: np.ndarray,
    house: np.ndarray,
    e0: float,
    eta: float,
    index: tuple[int, int, int, int, int],
) -> _Flows:
    """Net the battery's charge and discharge within each step, keeping the stored energy's
    change (eta * charge - discharge / eta); the energy no longer cycled is curtailed."""
    ic, idh, idm, ix, ii = index
    n = len(pv)
    power = x[: per * n].reshape(n, per)
    stored = x[per * n :]
    group_w = power[:, :g]
    miners = group_w.sum(axis=1)
    delta = eta * power[:, ic] - (power[:, idh] + power[:, idm]) / eta  # Wh per step hour
    charge = np.maximum(delta, 0.0) / eta
    discharge = np.maximum(-delta, 0.0) * eta
    export, grid_import = power[:, ix], power[:, ii]
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
