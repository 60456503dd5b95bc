"""What mining owes an off-grid battery: counted from power readings, cleared once it is full."""

from __future__ import annotations

import pytest

from edge_mining.config import PlannerConfig
from edge_mining.control.battery_debt import BatteryDebt
from edge_mining.model import EnergyReading

PLANNER = PlannerConfig(battery_kwh=10.0, battery_max_charge_w=5000.0)
T0 = 1_750_000_000.0


def reading(t: float, pv: float, battery: float | None, soc: float = 60.0) -> EnergyReading:
    return EnergyReading(timestamp=t, pv_power_w=pv, battery_power_w=battery, battery_soc_pct=soc)


def run_hour(debt: BatteryDebt, pv: float, house: float, battery: float, soc: float = 60.0,
             start: float = T0) -> None:  # fmt: skip
    for k in range(13):  # every 5 minutes, both ends included: one hour
        t = start + k * 300.0
        debt.observe(t, reading(t, pv, battery, soc), house)


@pytest.mark.parametrize(
    ("pv", "house", "battery", "owed_wh"),
    [
        (0.0, 300.0, -1500.0, 1200.0),  # a night hour mining 1,200 W from the battery
        (3000.0, 500.0, 1280.0, 1220.0),  # mining 1,220 W the battery would have stored
        (7000.0, 500.0, 5000.0, 0.0),  # mining only what the battery could not take
        (0.0, 300.0, -300.0, 0.0),  # the house alone: nothing owed
    ],
)
def test_mining_owes_what_the_battery_would_otherwise_hold(
    pv: float, house: float, battery: float, owed_wh: float
) -> None:
    debt = BatteryDebt(PLANNER, full_soc_pct=97.0)
    run_hour(debt, pv, house, battery)
    assert debt.debt_wh == pytest.approx(owed_wh, abs=1.0)
    assert debt.owed(0.5) is (owed_wh > 50.0)


def test_the_debt_is_cleared_when_the_battery_is_full_or_floats() -> None:
    debt = BatteryDebt(PLANNER, full_soc_pct=97.0)
    run_hour(debt, 0.0, 300.0, -1500.0)
    later = T0 + 7200.0
    debt.observe(later, reading(later, 4000.0, 1500.0, soc=98.0), 500.0)  # still charging
    assert debt.debt_wh == pytest.approx(200.0)  # kept, within the 2 % of room left
    debt.observe(later + 300.0, reading(later + 300.0, 2000.0, 0.0, soc=98.0), 500.0)  # float
    assert debt.debt_wh == 0.0
    run_hour(debt, 0.0, 300.0, -1500.0, start=later + 3600.0)
    done = later + 3 * 3600.0
    debt.observe(done, reading(done, 6000.0, 3000.0, soc=100.0), 500.0)  # full
    assert debt.debt_wh == 0.0


def test_no_more_is_owed_than_the_room_left_in_the_battery() -> None:
    debt = BatteryDebt(PLANNER, full_soc_pct=97.0)
    run_hour(debt, 0.0, 300.0, -1500.0, soc=95.0)  # 1,200 Wh mined; 5 % of 10 kWh is room
    assert debt.debt_wh == pytest.approx(500.0)


def test_a_gap_in_the_readings_keeps_the_debt_without_counting_the_gap() -> None:
    debt = BatteryDebt(PLANNER, full_soc_pct=97.0)
    run_hour(debt, 0.0, 300.0, -1500.0)
    before = debt.debt_wh
    debt.observe(T0 + 4000.0, reading(T0 + 4000.0, 0.0, None), 300.0)  # no battery power
    debt.observe(T0 + 9000.0, reading(T0 + 9000.0, 0.0, -1500.0), 300.0)  # after the gap
    assert debt.debt_wh == pytest.approx(before)
    debt.observe(T0 + 9300.0, reading(T0 + 9300.0, 0.0, -1500.0), 300.0)
    assert debt.debt_wh == pytest.approx(before + 100.0)
