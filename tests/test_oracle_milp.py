"""The unit-commitment MILP of the oracle's plant, on hourly cases solvable by hand, each one
where the LP oracle's relaxation (power from 0 W, no start rules) is worth more."""

from __future__ import annotations

import numpy as np
import pytest

from edge_mining.analysis.oracle_curves import group_miners
from edge_mining.analysis.oracle_lp import build_program
from edge_mining.analysis.oracle_milp import Commitment, lp_window_value, solve_window_milp
from edge_mining.config import MinerConfig, PlantConfig

# One 1000-3000 W miner at a constant 30 J/TH: 0.10 per kWh mined. Export 0.04, import 0.15.
MINER = MinerConfig(
    name="m1", min_power_w=1000, max_power_w=3000, nominal_hashrate_ths=100, nominal_power_w=3000
)
VALUE_PER_TH_S = 0.10 / 1000 * 30 / 3600
PLANT = PlantConfig(battery_kwh=0.0, battery_initial_soc_pct=0.0, inverter_max_w=20_000.0)


def program(surplus_w: list[float]):
    return build_program(
        np.array(surplus_w, float), np.zeros(len(surplus_w)), 3600.0, PLANT,
        group_miners([MINER]), btc_value_per_th_s=VALUE_PER_TH_S, export_price_per_kwh=0.04,
        import_price_per_kwh=0.15, reserve_soc_pct=0.0,
    )  # fmt: skip


@pytest.mark.parametrize(
    ("surplus_w", "rules", "lp", "milp", "miner_w"),
    [
        # 400 W for 4 h. The LP time-shares the miner: 1.6 kWh mined, 0.16. At its 1000 W
        # minimum it would earn 0.10 - 0.6 kWh * 0.15 = 0.01 an hour, less than exporting
        # 0.4 kWh (0.016): it stays off and 4 * 0.016 = 0.064.
        ([400] * 4, Commitment(24), 0.16, 0.064, [0, 0, 0, 0]),
        # 1500 W every other hour, one start a day: the LP mines all of it (0.45). The MILP
        # runs one block through the dark hours at its minimum (3 * 0.15 - 2 * 0.05) rather
        # than mine one hour and export the rest (0.15 + 2 * 0.06).
        ([1500, 0] * 3, Commitment(24, max_starts_per_day=1), 0.45, 0.35,
         [1500, 1000, 1500, 1000, 1500, 0]),
        # Three starts allowed: it follows the PV, as the LP does.
        ([1500, 0] * 3, Commitment(24, max_starts_per_day=3), 0.45, 0.45,
         [1500, 0, 1500, 0, 1500, 0]),
        # One hour of 1500 W, then 3 h on at least: 0.15 - 2 * 0.05 < 0.06 exported.
        ([1500, 0, 0, 0], Commitment(24, min_on_steps=3), 0.15, 0.06, [0, 0, 0, 0]),
    ],
)  # fmt: skip
def test_milp_commits_the_miner_where_the_lp_time_shares_it(surplus_w, rules, lp, milp, miner_w):
    prog = program(surplus_w)
    assert lp_window_value(prog, 0, len(surplus_w), 0.0) == pytest.approx(lp, abs=1e-6)
    sol = solve_window_milp(prog, [MINER], 0, len(surplus_w), 0.0, rules, mip_gap=0.0)
    assert sol.optimal
    assert sol.value == pytest.approx(milp, abs=1e-6)
    assert sol.bound == pytest.approx(milp, abs=1e-6)
    assert sol.miners_w[:, 0] == pytest.approx(miner_w, abs=1e-6)
    assert sol.binaries == len(surplus_w)  # one on/off per step; no battery, no reserve


def test_each_step_s_value_is_what_the_miner_earns_less_what_it_imports():
    # The one-start day above: an hour at 1500 W earns 0.15; an hour at the 1000 W minimum
    # with no PV earns 0.10 and imports 1 kWh at 0.15 (the rolling benchmark keeps a window's
    # first day by these values).
    prog = program([1500, 0] * 3)
    rules = Commitment(24, max_starts_per_day=1)
    sol = solve_window_milp(prog, [MINER], 0, 6, 0.0, rules, mip_gap=0.0)
    assert sol.step_value == pytest.approx([0.15, -0.05, 0.15, -0.05, 0.15, 0.0], abs=1e-6)
    assert sol.step_value.sum() == pytest.approx(sol.value, abs=1e-9)
