"""The hindsight oracle on periods short enough to solve by hand."""

from __future__ import annotations

import numpy as np
import pytest

from edge_mining.analysis.economics import Network
from edge_mining.analysis.kpis import Prices, attribute_mining, compute_kpis
from edge_mining.analysis.oracle import solve_oracle
from edge_mining.analysis.scenario import Scenario
from edge_mining.config import MinerConfig, PlantConfig

# One 3000 W / 100 TH/s miner. 1 TH/s earning 8.3333e-7 per second makes the miner earn
# (100/3000 TH/s per W) * 8.3333e-7 * 3600 s = 1e-4 per Wh: 0.10 per kWh.
MINER = MinerConfig(
    name="m1", min_power_w=1000, max_power_w=3000, nominal_hashrate_ths=100, nominal_power_w=3000
)
VALUE_PER_TH_S = 0.10 / 1000 * 30 / 3600
EXPORT, IMPORT = 0.04, 0.15
HOUR = 3600.0


def scenario(pv: list[float], house: list[float]) -> Scenario:
    return Scenario(0.0, HOUR, np.array(pv, float), np.array(house, float))


def plant(**changes: float) -> PlantConfig:
    base = dict(
        battery_kwh=0.0, battery_min_soc_pct=0.0, battery_initial_soc_pct=0.0,
        battery_efficiency=1.0, inverter_max_w=20_000.0,
    )  # fmt: skip
    return PlantConfig(**{**base, **changes})


def solve(s: Scenario, p: PlantConfig, reserve: float = 0.0, **kw: float):
    return solve_oracle(
        s, p, [MINER], btc_value_per_th_s=VALUE_PER_TH_S, export_price_per_kwh=EXPORT,
        import_price_per_kwh=IMPORT, reserve_soc_pct=reserve, **kw,
    )  # fmt: skip


def test_without_battery_mines_exactly_the_surplus_up_to_its_maximum():
    # Mining (0.10/kWh) beats export (0.04) but not import (0.15): mine min(surplus, 3000).
    trace = solve(scenario([0, 2000, 4000, 4000, 2000, 0], [500] * 6), plant())
    assert trace.miners_w == pytest.approx([0, 1500, 3000, 3000, 1500, 0], abs=1e-6)
    assert trace.grid_export_w == pytest.approx([0, 0, 500, 500, 0, 0], abs=1e-6)
    assert trace.grid_import_w == pytest.approx([500, 0, 0, 0, 0, 500], abs=1e-6)
    # 9 kWh mined (0.90) + 1 kWh exported (0.04) - 1 kWh imported (0.15).
    assert trace.notes["objective"] == pytest.approx(0.79, abs=1e-6)
    # Continuous power: the 1500 W steps run below nothing (no minimum power in the LP).
    assert trace.starts.sum() == 1


def test_battery_stores_what_the_miner_cannot_take_and_the_house_comes_first():
    # Noon: 5 kW of PV, nothing else: mine 3 kW, store 2 kW. Next hour: no PV; the stored
    # 2 kWh could all be mined (0.20), but the house needs 1 kWh the hour after, which would
    # then be imported at 0.15: mine 1 kWh (0.10), keep 1 kWh for the house. Total 0.40.
    s = scenario([5000, 0, 0], [0, 0, 1000])
    trace = solve(s, plant(battery_kwh=2.0, battery_max_charge_w=5000))
    # (When the 1 kWh is mined, the second or the third hour, is the LP's free choice.)
    assert trace.miners_w[0] == pytest.approx(3000, abs=1e-6)
    assert trace.miners_w.sum() == pytest.approx(4000, abs=1e-6)
    assert trace.battery_in_w == pytest.approx([2000, 0, 0], abs=1e-6)
    assert trace.battery_out_w.sum() == pytest.approx(2000, abs=1e-6)
    assert trace.grid_import_w.sum() == pytest.approx(0.0, abs=1e-6)
    assert trace.grid_export_w.sum() == pytest.approx(0.0, abs=1e-6)
    assert trace.notes["objective"] == pytest.approx(0.40, abs=1e-5)
    assert trace.soc_end_pct[0] == pytest.approx(100, abs=1e-6)
    assert trace.soc_end_pct[-1] == pytest.approx(0, abs=1e-6)


def test_reserve_is_respected_after_repair_and_the_relaxation_bounds_it():
    # A full battery's worth at 50 % SoC, reserve 50 %, nothing else: the miner may mine
    # one hour from the battery (3 kWh, SoC 50 % -> 20 %) and must then stop. The LP's
    # convex relaxation would keep mining ever smaller amounts below the reserve; the
    # repair forbids that. Exact optimum: 3 kWh = 0.30.
    s = scenario([0] * 6, [0] * 6)
    p = plant(battery_kwh=10.0, battery_initial_soc_pct=50.0)
    trace = solve(s, p, reserve=50.0)
    assert trace.miners_w == pytest.approx([3000, 0, 0, 0, 0, 0], abs=1e-6)
    assert trace.notes["objective"] == pytest.approx(0.30, abs=1e-5)
    assert trace.notes["relaxed_bound"] >= trace.notes["objective"] - 1e-9
    relaxed = solve(s, p, reserve=50.0, repair_rounds=0)
    assert relaxed.notes["objective"] > 0.30  # the relaxation alone is looser


def test_limits_are_honoured():
    # Export limit 1 kW and a 2 kW inverter: a 6 kW PV hour with a 3 kW miner and no
    # battery must curtail; the miner is limited by the inverter, not by PV.
    s = scenario([6000], [0])
    trace = solve(s, plant(export_limit_w=1000.0, inverter_max_w=2000.0))
    assert trace.miners_w[0] + trace.grid_export_w[0] <= 2000 + 1e-6
    assert trace.miners_w[0] == pytest.approx(2000, abs=1e-6)
    assert trace.curtailed_w[0] == pytest.approx(4000, abs=1e-6)
    assert np.abs(trace.balance_error_w).max() < 1e-6


def test_off_grid_never_mines_the_battery_below_the_reserve():
    # An 8-hour off-grid night just under the reserve (28 % < 30 %), then two sunny hours
    # that refill the battery whatever happens: night-time battery energy is free, so the
    # relaxation mines it (a trickle "just under the reserve" is what its convex hull
    # allows), and forbidding only the steps it chose just moves the trickle (five such
    # rounds left a violation here). The reserve forbids it all: the miner must wait for the
    # sun. Exact optimum: two sunny hours at 3 kW = 6 kWh = 0.60; the house alone takes the
    # SoC to 20 % overnight.
    s = scenario([0] * 8 + [8000, 8000], [100] * 10)
    p = plant(
        battery_kwh=10.0, battery_initial_soc_pct=28.0, battery_min_soc_pct=5.0,
        battery_max_charge_w=5000.0, grid_connected=False,
    )  # fmt: skip
    prices = Prices(Network(), EXPORT, IMPORT)

    trace = solve(s, p, reserve=30.0)
    assert trace.miners_w == pytest.approx([0] * 8 + [3000, 3000], abs=1e-6)
    assert trace.notes["objective"] == pytest.approx(0.60, abs=1e-5)
    assert trace.soc_start_pct[8] == pytest.approx(20.0, abs=1e-6)  # the house's doing
    assert trace.unserved_w == pytest.approx([0] * 10, abs=1e-6)
    kpis = compute_kpis(trace, trace, prices, 30.0)
    assert kpis["reserve_violations"] == 0
    assert kpis["battery_kwh_for_mining"] == 0
    assert kpis["min_soc_pct"] < 30.0  # below the reserve, but not because of mining

    relaxed = solve(s, p, reserve=30.0, repair_rounds=0)
    assert relaxed.notes["objective"] > 0.60 + 0.05  # the temptation is real
    # The certified bound on the relaxation is its optimum (up to the throughput epsilon).
    assert trace.notes["relaxed_bound"] == pytest.approx(relaxed.notes["objective"], abs=1e-5)
    assert compute_kpis(relaxed, relaxed, prices, 30.0)["reserve_violations"] > 0


def test_battery_serving_the_house_is_not_mining_the_battery():
    # Night, grid-connected: the battery gives 1000 W, all of it to the house; a 17 W miner
    # runs on grid power. The house has priority on the battery: nothing of it is mining.
    z, one = np.zeros(1), np.ones(1)
    shares = attribute_mining(
        pv_w=z, house_w=1000 * one, miners_w=17 * one, battery_in_w=z, battery_out_w=1000 * one,
        export_w=z, import_w=17 * one, curtailed_w=z,
    )  # fmt: skip
    assert shares.from_battery_w == pytest.approx([0.0])
    assert shares.from_grid_w == pytest.approx([17.0])
    # With 1017 W out of the battery, the 17 W beyond the house's need are the miner's.
    shares = attribute_mining(z, 1000 * one, 17 * one, z, 1017 * one, z, z, z)
    assert shares.from_battery_w == pytest.approx([17.0])


def test_continuous_plan_has_no_starts_kpi():
    trace = solve(scenario([0, 2000, 4000, 0], [500] * 4), plant())
    kpis = compute_kpis(trace, trace, Prices(Network(), EXPORT, IMPORT), 0.0)
    assert kpis["starts"] is None
    assert kpis["starts_per_day_per_miner"] is None
    assert kpis["max_starts_per_day"] is None
    assert trace.starts.sum() == 1  # still recorded in the trace, for the report
