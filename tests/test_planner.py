"""The planner's linear program, as tables of situations: what a sunny or a cloudy tomorrow
does to tonight, which miners carry the energy, and that no plan leaves the house short."""

from __future__ import annotations

import math
import pickle
import subprocess
import sys

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from edge_mining.analysis.catalogue import miner_configs
from edge_mining.control import planner
from edge_mining.control.planner import (
    BatterySpec,
    PlanError,
    PlanMiner,
    PlanRequest,
    SiteSpec,
    _commit,
    house_only_stored_wh,
    plan_steps,
    solve_plan,
)

EVENING = 1_750_032_000.0  # 2025-06-16 00:00 UTC ...
EVENING += 18 * 3600.0  # ... 18:00 UTC: the plans below start at dusk
HASHPRICE_PER_TH_HOUR = 0.05 / 24.0
BATTERY = BatterySpec(capacity_wh=15000.0)
OFF_GRID = SiteSpec(
    BATTERY, grid_connected=False, inverter_max_w=8000.0, value_per_th_hour=HASHPRICE_PER_TH_HOUR
)
GRID_SITE = SiteSpec(
    BatterySpec(capacity_wh=10000.0),
    grid_connected=True,
    inverter_max_w=8000.0,
    export_price_per_kwh=0.04,
    import_price_per_kwh=0.15,
    value_per_th_hour=HASHPRICE_PER_TH_HOUR,
)


def fleet(*specs: str, running: tuple[str, ...] = ()) -> list[PlanMiner]:
    return [
        PlanMiner(c.name, c.curve(), c.min_power_w, c.max_power_w, c.power_target,
                  running=c.name in running)
        for c in miner_configs(specs)
    ]  # fmt: skip


def sun_w(t: float, day_kwh: float) -> float:
    """A clear-sky-like day: a sine from 06:00 to 18:00 UTC holding ``day_kwh``."""
    hour = (t % 86400.0) / 3600.0
    if not 6.0 < hour < 18.0:
        return 0.0
    return math.sin(math.pi * (hour - 6.0) / 12.0) * day_kwh * 1000.0 * math.pi / 24.0


def day_pv_w(steps: tuple[tuple[float, float], ...], day_kwh: float) -> list[float]:
    """Mean PV of each step on a clear-sky-like day holding ``day_kwh``."""
    return [np.mean([sun_w(a + (b - a) * f, day_kwh) for f in (0.1, 0.3, 0.5, 0.7, 0.9)])
            for a, b in steps]  # fmt: skip


def request(
    steps: tuple[tuple[float, float], ...],
    *,
    tomorrow_kwh: float,
    soc: float,
    miners: list[PlanMiner],
    load_w: float = 400.0,
    floor: float = 30.0,
) -> PlanRequest:
    pv = day_pv_w(steps, tomorrow_kwh)
    return PlanRequest(EVENING, soc, pv, [load_w] * len(steps), miners, floor)


def night_min_soc(plan, until_hour: float = 6.0) -> float:
    """Lowest planned SoC before ``until_hour`` tomorrow."""
    limit = EVENING + (24.0 - 18.0 + until_hour) * 3600.0
    return min(s.soc_end_pct for s in plan.steps if s.end <= limit)


def test_a_sunny_tomorrow_lets_the_battery_go_lower_tonight_a_cloudy_one_keeps_it() -> None:
    steps = plan_steps(EVENING, 36)
    miners = fleet("S19j Pro", "S9:2")
    sunny = solve_plan(request(steps, tomorrow_kwh=40, soc=80, miners=miners), steps, OFF_GRID)
    cloudy = solve_plan(request(steps, tomorrow_kwh=6, soc=80, miners=miners), steps, OFF_GRID)
    # Sunny: tomorrow's PV fills the battery and more, so some of tonight's stored energy is
    # mined (late, just before the sun: a forecast that was too bright has then cost least):
    # as much as tomorrow would still give back with half its forecast PV.
    assert sunny.battery_mining_wh(EVENING, EVENING + 14 * 3600) > 1000.0
    assert sunny.refilled_at(EVENING, 99.0) is not None
    # Cloudy: nothing from the battery tonight; it only follows the house's own draw.
    assert cloudy.battery_mining_wh(EVENING, EVENING + 24 * 3600) == pytest.approx(0.0, abs=1.0)
    overcast = request(steps, tomorrow_kwh=6, soc=80, miners=miners)
    hours = np.array([(b - a) / 3600.0 for a, b in steps])
    alone = house_only_stored_wh(
        np.array(overcast.pv_w), np.array(overcast.load_w), hours, 12000.0, BATTERY, 8000.0
    )
    night = [k for k, s in enumerate(cloudy.steps) if s.end <= EVENING + 14 * 3600]
    for k in night:
        assert cloudy.steps[k].soc_end_pct == pytest.approx(alone[k] / 150.0, abs=0.2)
    assert night_min_soc(sunny, until_hour=8.0) < night_min_soc(cloudy, until_hour=8.0) - 5.0
    # The reserve is what the house needs with half the forecast PV and 20 % more load.
    assert cloudy.reserve_soc_pct > sunny.reserve_soc_pct


def test_the_efficient_miner_carries_the_energy_before_the_old_ones() -> None:
    """Midday, 2.5 kW to spare and a full battery: the S19j Pro takes it all (it mines 3.5x
    more per kWh than an S9); only beyond its maximum do the S9s get any."""
    now = EVENING - 6 * 3600.0  # 12:00 UTC
    steps = plan_steps(now, 24)
    miners = fleet("S19j Pro", "S9:2")
    for spare_w, s9_expected in ((2500.0, False), (4500.0, True)):
        pv = [spare_w + 400.0] * len(steps)
        plan = solve_plan(
            PlanRequest(now, 100.0, pv, [400.0] * len(steps), miners, 30.0), steps, OFF_GRID
        )
        committed = plan.miners_at(now)
        assert "S19j-Pro-1" in committed
        assert committed["S19j-Pro-1"] == pytest.approx(min(spare_w, 3050.0), rel=0.02)
        assert ("S9-2" in committed) is s9_expected, committed
        if s9_expected:  # two S9s at lower power beat one at full: both run
            assert set(committed) == {"S19j-Pro-1", "S9-2", "S9-3"}
            assert sum(committed.values()) == pytest.approx(spare_w, rel=0.02)


def test_with_a_grid_the_plan_mines_early_and_fills_the_battery_last() -> None:
    """A sunny day whose surplus the battery and the S19j Pro at its minimum can take: where
    in the day the mining goes changes no value in the program, only its tie-breaker does.
    Off-grid the battery is filled first; with a grid it is filled last, so a day brighter
    than forecast finds room in it instead of a miner at high power (or export)."""
    dawn = EVENING - 12 * 3600.0  # 06:00 UTC
    steps = plan_steps(dawn, 24)
    miners = fleet("S19j Pro")
    pv = day_pv_w(steps, 14.0)
    off_grid = SiteSpec(
        BatterySpec(capacity_wh=10000.0),
        grid_connected=False,
        inverter_max_w=8000.0,
        value_per_th_hour=HASHPRICE_PER_TH_HOUR,
    )
    day = PlanRequest(dawn, 40.0, pv, [400.0] * len(steps), miners, 30.0)
    plans = {"grid": solve_plan(day, steps, GRID_SITE), "off": solve_plan(day, steps, off_grid)}
    noon = EVENING - 6 * 3600.0

    def mined_before_noon_wh(plan) -> float:
        return sum(s.mining_w * (s.end - s.start) / 3600.0 for s in plan.steps if s.end <= noon)

    # The same day's mining, placed differently.
    assert mined_before_noon_wh(plans["grid"]) > mined_before_noon_wh(plans["off"]) + 2000.0
    full = {name: plan.refilled_at(dawn, 99.0) for name, plan in plans.items()}
    assert full["off"] is not None and full["off"] <= noon + 3 * 3600.0, full
    assert full["grid"] is None or full["grid"] >= full["off"] + 3 * 3600.0, full


def test_with_a_grid_pv_is_mined_below_the_reserve_but_the_battery_is_not() -> None:
    """Grid-tied, dawn, the battery at 10 % (reserve 30 %), a sunny day: the plan mines the
    morning's surplus while the battery is still below the reserve (the grid serves the
    house; the battery is charged later in the day), but in no step that starts below the
    reserve does mining take more than the surplus (the battery still serves the house)."""
    dawn = EVENING - 12 * 3600.0  # 06:00 UTC
    steps = plan_steps(dawn, 24)
    pv = day_pv_w(steps, 18.0)
    load = [400.0] * len(steps)
    plan = solve_plan(PlanRequest(dawn, 10.0, pv, load, fleet("S19j Pro"), 30.0), steps, GRID_SITE)
    start_soc = [10.0] + [s.soc_end_pct for s in plan.steps[:-1]]
    below = [s for s, soc in zip(plan.steps, start_soc, strict=True) if soc < 30.0 - 1e-6]
    mined_below_wh = sum(s.mining_w * (s.end - s.start) / 3600.0 for s in below)
    assert mined_below_wh > 4000.0  # keeping the battery first: 0.8 kWh
    for s in below:
        assert s.mining_w <= max(0.0, s.pv_w - s.load_w) + 1e-3, s
    # The battery is charged by the evening: the night starts at the reserve or above.
    dusk = next(s for s in plan.steps if s.start >= dawn + 12 * 3600.0)
    assert dusk.soc_end_pct >= 30.0 - 1.0


def test_with_a_grid_mining_takes_the_battery_to_the_reserve_and_the_house_goes_on() -> None:
    """Grid-tied, dusk, the battery at 95 %, a sunny tomorrow that fills it again: the house
    alone would take it to about 44 % by dawn. Tonight's mining may go on while the battery
    is above the 30 % reserve, and the house then takes it lower, down to the night's buffer
    (``NIGHT_BUFFER_SHARE`` of the way from the battery's 5 % floor to the reserve), never to
    the floor: about 3 kWh for the miner, where keeping the reserve until dawn would leave it
    1.4 kWh."""
    steps = plan_steps(EVENING, 36)
    plan = solve_plan(request(steps, tomorrow_kwh=30.0, soc=95.0, miners=fleet("S19j Pro")),
                      steps, GRID_SITE)  # fmt: skip
    from_battery_wh = plan.battery_mining_wh(EVENING, EVENING + 12 * 3600.0)
    assert 2500.0 < from_battery_wh <= (95.0 - 30.0) / 100.0 * 10000.0
    buffer_pct = 5.0 + planner.NIGHT_BUFFER_SHARE * (30.0 - 5.0)
    lowest = night_min_soc(plan)
    assert buffer_pct - 1e-3 <= lowest < 30.0


def test_with_a_grid_the_plan_weighs_a_darker_afternoon_today(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """Grid-tied, 10:00, the battery at 10 % (reserve 30 %): the plan weighs the chance that
    the rest of today is darker than forecast. On a middling day (14 kWh) it keeps the next
    hour's surplus for the battery, where a plan that trusts the forecast mines it on the
    afternoon's promise; on a bright day (20 kWh) even the darker afternoon refills the
    battery, and it mines as that plan does. Its steps show the forecast itself."""
    now = EVENING - 8 * 3600.0
    steps = plan_steps(now, 24)

    def next_hour_wh(day_kwh: float) -> float:
        pv = day_pv_w(steps, day_kwh)
        day = PlanRequest(now, 10.0, pv, [400.0] * len(steps), fleet("S19j Pro"), 30.0)
        plan = solve_plan(day, steps, GRID_SITE)
        assert [s.pv_w for s in plan.steps] == pytest.approx(pv)
        return sum(s.mining_w * (s.end - s.start) / 3600.0 for s in plan.steps[:4])

    weighed = {kwh: next_hour_wh(kwh) for kwh in (14.0, 20.0)}
    monkeypatch.setattr(planner, "GRID_PV_SCENARIOS", ((1.0, 1.0),))
    trusting = {kwh: next_hour_wh(kwh) for kwh in (14.0, 20.0)}
    assert trusting[14.0] > 1000.0
    assert weighed[14.0] < trusting[14.0] - 1000.0
    assert weighed[20.0] > 1000.0
    assert weighed[20.0] == pytest.approx(trusting[20.0], abs=50.0)


def test_with_a_grid_tomorrow_is_not_weighed_tonight(monkeypatch: pytest.MonkeyPatch) -> None:
    """Grid-tied, dusk, the battery at 95 %: tonight's mining rests on tomorrow's forecast as
    it is (tomorrow's own plans weigh it), so the plan is the one that trusts the forecast."""
    steps = plan_steps(EVENING, 36)
    dusk = request(steps, tomorrow_kwh=30.0, soc=95.0, miners=fleet("S19j Pro"))
    weighed = solve_plan(dusk, steps, GRID_SITE)
    monkeypatch.setattr(planner, "GRID_PV_SCENARIOS", ((1.0, 1.0),))
    trusting = solve_plan(dusk, steps, GRID_SITE)
    assert weighed.battery_mining_wh(EVENING, EVENING + 12 * 3600.0) > 2500.0
    assert weighed.table[:, 2] == pytest.approx(trusting.table[:, 2], abs=1.0)


@pytest.mark.parametrize(
    ("power", "expected"),
    [
        (200.0, {}),  # under half the S9's minimum (600 W)
        (299.0, {}),
        (300.0, {"S9-1": 600.0}),  # half of it: one S9 at its minimum
        (500.0, {"S9-1": 600.0}),
        (1000.0, {"S9-1": 1000.0}),
        (1300.0, {"S9-1": 650.0, "S9-2": 650.0}),  # two at lower power beat one at full
        (2646.0, {"S9-1": 1323.0, "S9-2": 1323.0}),
    ],
)
def test_group_power_becomes_whole_miners(power: float, expected: dict[str, float]) -> None:
    members = fleet("S9:2")
    members = [PlanMiner(f"S9-{i + 1}", m.curve, m.min_power_w, m.max_power_w)
               for i, m in enumerate(members)]  # fmt: skip
    assert _commit(members, power) == pytest.approx(expected)


def test_running_miners_are_committed_first() -> None:
    members = fleet("S9:2", running=("S9-2",))
    assert set(_commit(members, 700.0)) == {"S9-2"}


@pytest.mark.parametrize(
    ("running", "power", "expected"),
    [
        ((), 200.0, {}),  # stopped: under half the S9's minimum, not committed
        (("S9-2",), 200.0, {"S9-2": 600.0}),  # running: kept while the plan mines with it
        (("S9-2",), 30.0, {"S9-2": 600.0}),
        (("S9-2",), 29.0, {}),  # under 5 % of its minimum: solver noise, it may stop
        ((), 800.0, {"S9-1": 800.0}),  # stopped: one S9 for less than two minimums
        (("S9-1", "S9-2"), 800.0, {"S9-1": 600.0, "S9-2": 600.0}),  # both kept (>= 1.05 x)
        (("S9-1", "S9-2"), 620.0, {"S9-1": 620.0}),  # under 1.05 minimums: one of them goes
    ],
)
def test_running_miners_stay_committed_through_a_small_dip(
    running: tuple[str, ...], power: float, expected: dict[str, float]
) -> None:
    members = fleet("S9:2", running=running)
    assert _commit(members, power) == pytest.approx(expected)


def test_a_forecast_with_gaps_or_no_battery_is_refused() -> None:
    steps = plan_steps(EVENING, 24)
    miners = fleet("S19j Pro")
    broken = request(steps, tomorrow_kwh=30, soc=60, miners=miners)
    pv = list(broken.pv_w)
    pv[3] = float("nan")
    with pytest.raises(PlanError):
        solve_plan(PlanRequest(EVENING, 60, pv, broken.load_w, miners, 30.0), steps, OFF_GRID)
    no_battery = SiteSpec(BatterySpec(capacity_wh=0.0), grid_connected=True)
    with pytest.raises(PlanError):
        solve_plan(broken, steps, no_battery)


# Any two days of forecast, any SoC and house load, a plan made at any hour.
any_plan = given(
    days_kwh=st.lists(st.floats(0.0, 50.0), min_size=2, max_size=2),
    soc=st.floats(5.0, 100.0),
    load_w=st.floats(100.0, 1500.0),
    start_hour=st.integers(0, 23),
)
plan_examples = settings(
    max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow]
)


def two_days(
    days_kwh: list[float], load_w: float, start_hour: int
) -> tuple[float, tuple[tuple[float, float], ...], list[float], list[float]]:
    """A plan's time, steps, PV (today's and tomorrow's energy as given) and house load."""
    now = EVENING - 18 * 3600.0 + start_hour * 3600.0
    steps = plan_steps(now, 36)
    pv = []
    for a, b in steps:
        kwh = days_kwh[0] if (a - now) < 86400.0 - (now % 86400.0) else days_kwh[1]
        pv.append(float(np.mean([sun_w(a + (b - a) * f, kwh) for f in (0.1, 0.3, 0.5, 0.7, 0.9)])))
    return now, steps, pv, [load_w] * len(steps)


@plan_examples
@any_plan
def test_no_grid_plan_mines_the_battery_in_a_step_it_starts_below_the_reserve(
    days_kwh: list[float], soc: float, load_w: float, start_hour: int
) -> None:
    """With a grid, whatever the forecast and the SoC: a step the plan starts below the 30 %
    reserve mines the surplus PV at most (the oracle's rule: mining draws on the battery only
    while the SoC is at or above the reserve)."""
    now, steps, pv, loads = two_days(days_kwh, load_w, start_hour)
    plan = solve_plan(PlanRequest(now, soc, pv, loads, fleet("S19j Pro"), 30.0), steps, GRID_SITE)
    start_soc = [soc] + [s.soc_end_pct for s in plan.steps[:-1]]
    for s, before in zip(plan.steps, start_soc, strict=True):
        if before < 30.0 - 1e-3:
            assert s.mining_w <= max(0.0, s.pv_w - s.load_w) + 1.0, (before, s)


@plan_examples
@any_plan
def test_no_plan_leaves_forecast_load_unserved(
    days_kwh: list[float], soc: float, load_w: float, start_hour: int
) -> None:
    """Whatever the forecast and the SoC: the plan serves the forecast load exactly as the
    house alone would (mining never adds unserved load), and it never mines the battery below
    the house reserve (or below where the house alone would have taken it)."""
    now, steps, pv, loads = two_days(days_kwh, load_w, start_hour)
    miners = fleet("S19j Pro", "S9:2")
    plan = solve_plan(PlanRequest(now, soc, pv, loads, miners, 30.0), steps, OFF_GRID)
    hours = np.array([(b - a) / 3600.0 for a, b in steps])
    e0 = BATTERY.capacity_wh * soc / 100.0
    alone = house_only_stored_wh(np.array(pv), np.array(loads), hours, e0, BATTERY, 8000.0)
    e_min = BATTERY.capacity_wh * BATTERY.min_soc_pct / 100.0
    # Unserved without mining: what the battery could not give, step by step.
    alone_unserved = 0.0
    stored = e0
    for k, h in enumerate(hours):
        deficit = max(0.0, loads[k] - pv[k])
        gave = (stored - alone[k]) / h * math.sqrt(BATTERY.efficiency) if deficit else 0.0
        alone_unserved += max(0.0, deficit - gave) * h
        stored = alone[k]
    planned_unserved = sum(s.unserved_w * (s.end - s.start) / 3600.0 for s in plan.steps)
    assert planned_unserved <= alone_unserved + 1.0
    for k, s in enumerate(plan.steps):
        stored_k = s.soc_end_pct * BATTERY.capacity_wh / 100.0
        assert stored_k >= min(s.floor_soc_pct * BATTERY.capacity_wh / 100.0, alone[k]) - 1.0
        assert stored_k >= e_min - 1.0
    assert plan.reserve_soc_pct >= 30.0


POOL_OF_TWO = """
import pickle, sys
import highspy
import numpy as np
from edge_mining.control.planner import solve_plan

# Something else in the process solves first, on a pool of two threads.
first = highspy.Highs()
first.setOptionValue("output_flag", False)
first.setOptionValue("threads", 2)
lp = highspy.HighsLp()
lp.num_col_, lp.num_row_ = 1, 0
lp.col_cost_, lp.col_lower_, lp.col_upper_ = np.ones(1), np.zeros(1), np.ones(1)
first.passModel(lp)
first.run()
request, steps, site = pickle.load(open(sys.argv[1], "rb"))
print(pickle.dumps(solve_plan(request, steps, site).table).hex())
"""


def test_the_plan_is_solved_and_the_same_when_highs_already_runs_on_more_threads(tmp_path):
    # HiGHS sizes one thread pool per process; a solver asking for one thread on a pool of
    # two used to fail ("not set"), and the controller then followed its rules for good.
    # A fresh process: this one's pool was sized by earlier tests.
    steps = plan_steps(EVENING, 36)
    case = (request(steps, tomorrow_kwh=40, soc=80, miners=fleet("S19j Pro", "S9:2")), steps,
            OFF_GRID)  # fmt: skip
    here = solve_plan(*case)
    path = tmp_path / "case.pickle"
    path.write_bytes(pickle.dumps(case))
    out = subprocess.run(
        [sys.executable, "-c", POOL_OF_TWO, str(path)],
        capture_output=True, text=True, timeout=120, check=True,
    )  # fmt: skip
    there = pickle.loads(bytes.fromhex(out.stdout.strip().splitlines()[-1]))
    assert here.table[:, 2].max() > 0  # it mines
    np.testing.assert_array_equal(there, here.table)
