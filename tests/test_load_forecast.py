"""The house-load profile the planner learns from the site's own readings."""

from __future__ import annotations

import pytest

from edge_mining.control.load_forecast import BINS_PER_DAY, HouseLoadProfile
from edge_mining.control.planning import house_load_w
from edge_mining.model import EnergyReading

DAY0 = 20_000 * 86400.0  # a UTC midnight


def feed(profile: HouseLoadProfile, start: float, hours: float, watts_at, step: float = 60.0):
    t = start
    while t < start + hours * 3600.0:
        profile.observe(t, watts_at(t))
        t += step


def evening_peak(t: float) -> float:
    hour = (t % 86400.0) / 3600.0
    return 1500.0 if 18.0 <= hour < 21.0 else 300.0


def test_no_history_no_forecast_then_one_day_fills_every_quarter_hour() -> None:
    profile = HouseLoadProfile(days=7)
    assert profile.forecast([DAY0]) is None
    feed(profile, DAY0, 24, evening_peak)
    tomorrow = DAY0 + 86400.0
    got = profile.forecast([tomorrow + 19 * 3600.0, tomorrow + 3 * 3600.0])
    assert got == pytest.approx([1500.0, 300.0])


def test_same_quarter_hour_is_averaged_over_the_days_kept() -> None:
    profile = HouseLoadProfile(days=2)
    for day, level in enumerate((100.0, 200.0, 600.0)):  # the first day drops out
        feed(profile, DAY0 + day * 86400.0, 24, lambda t, lv=level: lv)
    assert profile.forecast([DAY0 + 3 * 86400.0 + 3600.0]) == pytest.approx([400.0])


def test_a_gap_in_the_readings_is_not_filled_with_a_stale_value() -> None:
    profile = HouseLoadProfile(days=7)
    profile.observe(DAY0, 1000.0)
    profile.observe(DAY0 + 6 * 3600.0, 200.0)  # six hours without readings
    feed(profile, DAY0 + 6 * 3600.0, 1, lambda t: 200.0)
    means = profile.profile()
    assert means is not None
    # The 1000 W reading holds one quarter hour at most, not the six hours after it.
    assert means[0] == pytest.approx(1000.0)
    assert means[1] == pytest.approx(1000.0)  # 00:15: never seen, borrows the nearest seen
    assert means[20] == pytest.approx(200.0)  # 05:00: likewise, from 06:00


def test_export_and_restore_round_trip_and_refuse_garbage() -> None:
    profile = HouseLoadProfile(days=7)
    feed(profile, DAY0, 30, evening_peak)
    data = profile.export()
    restored = HouseLoadProfile(days=7)
    restored.restore(data, DAY0 + 30 * 3600.0)
    when = [DAY0 + 86400.0 * 2 + 19 * 3600.0]
    assert restored.forecast(when) == pytest.approx(profile.forecast(when))
    for bad in (
        {"version": 2, "days": {}},
        {"version": 1, "days": []},
        {"version": 1, "days": {"x": [[0, 0]] * BINS_PER_DAY}},
        {"version": 1, "days": {"1": [[0, 0]] * 3}},
        {"version": 1, "days": {"1": [[-5, 10]] * BINS_PER_DAY}},
        {"version": 1, "days": {"1": [[float("nan"), 10]] * BINS_PER_DAY}},
        {"version": 1, "days": {"1": [[True, 10]] * BINS_PER_DAY}},
    ):
        with pytest.raises(ValueError):
            restored.restore(bad, DAY0)
        assert restored.forecast(when) == pytest.approx(profile.forecast(when))  # unchanged


@pytest.mark.parametrize(
    ("reading", "miners_w", "expected"),
    [
        # Balance known: PV 3000, battery charging 1000, exporting 500, miners 1000.
        (dict(pv_power_w=3000, battery_power_w=1000, grid_power_w=-500), 1000, 500.0),
        # Off-grid inverter: load includes the miners.
        (dict(pv_power_w=0, battery_power_w=-1400, load_power_w=1400), 1000, 400.0),
        (dict(load_power_w=900), 0, 900.0),
        (dict(battery_soc_pct=50), 0, None),
    ],
)
def test_house_load_is_the_balance_without_the_miners(
    reading: dict[str, float], miners_w: float, expected: float | None
) -> None:
    energy = EnergyReading(timestamp=DAY0, **reading)
    assert house_load_w(energy, miners_w) == (
        pytest.approx(expected) if expected is not None else None
    )
