"""The demo's forecast (``forecast.type: simulated``): the simulated plant's own PV with a
day-ahead forecast's error, the same in every run, never above what the sky allows."""

from __future__ import annotations

import asyncio

import pytest

from edge_mining.clock import ManualClock
from edge_mining.config import ForecastConfig, PlantConfig
from edge_mining.sim.forecast import HORIZON_H, SimulatedForecast
from edge_mining.sim.plant import Plant, clear_sky_pv_w

DAY = 20_625 * 86400.0  # 2026-06-21 00:00 UTC
PLANT = PlantConfig(pv_kwp=5.0, pv_cloud_noise=0.3, latitude=45.0, seed=7)


def forecast(sigma: float, plant: PlantConfig = PLANT) -> SimulatedForecast:
    config = ForecastConfig(type="simulated", error_sigma=sigma)
    return SimulatedForecast(config, Plant(plant, start_time=DAY), clock=ManualClock(DAY))


def hour_mean(power, start: float, samples: int = 12) -> float:
    """The mean of ``power`` over the hour from ``start``, sampled mid-slot."""
    step = 3600.0 / samples
    return sum(power(start + (i + 0.5) * step) for i in range(samples)) / samples


def test_without_error_the_forecast_is_the_plant_s_hourly_pv() -> None:
    exact = forecast(0.0)
    plant = exact.plant
    for hour in range(48):
        start = DAY + hour * 3600.0
        assert exact.hour_w(start) == pytest.approx(hour_mean(plant.pv_potential_w, start))
    assert max(exact.hour_w(DAY + h * 3600.0) for h in range(24)) > 2000.0  # a June noon
    assert exact.hour_w(DAY) == 0.0  # midnight


def test_the_error_is_the_same_in_every_run_and_differs_by_seed_and_day() -> None:
    first, again = forecast(0.3), forecast(0.3)
    day = int(DAY // 86400)
    assert list(first.day_w(day)) == list(again.day_w(day))
    assert first.at(DAY + 9.5 * 3600.0) == again.at(DAY + 9.5 * 3600.0)
    other_seed = forecast(0.3, PLANT.model_copy(update={"seed": 8}))
    assert list(other_seed.day_w(day)) != list(first.day_w(day))
    exact = forecast(0.0)
    # A real error: the forecast is not the plant's PV, on no day of a week.
    for d in range(day, day + 7):
        assert list(first.day_w(d)) != pytest.approx(list(exact.day_w(d)), rel=0.01)
    # Day ahead: an hour's forecast does not change during the day it is issued in.
    target = DAY + 15 * 3600.0
    issued = [dict(first.at(DAY + h * 3600.0 + 60.0).next_hours_w)[target] for h in range(15)]
    assert len(set(issued)) == 1


@pytest.mark.parametrize("sigma", [0.3, 1.0])
def test_no_hour_is_above_the_clear_sky(sigma: float) -> None:
    noisy = forecast(sigma)
    c = noisy.plant.config
    day = int(DAY // 86400)
    for d in range(day, day + 14):
        for h, value in enumerate(noisy.day_w(d)):
            start = d * 86400.0 + h * 3600.0
            clear = hour_mean(lambda t: clear_sky_pv_w(t, c.latitude, c.pv_kwp), start)
            actual = hour_mean(noisy.plant.pv_potential_w, start)
            assert 0.0 <= value <= max(clear, actual) + 1e-6, (d, h)


def test_it_is_issued_every_hour_for_the_next_48_hours() -> None:
    simulated = forecast(0.3)
    now = DAY + 9 * 3600.0 + 1234.0
    simulated.clock.advance(now - DAY)
    reading = asyncio.run(simulated.read())
    hour = DAY + 9 * 3600.0
    assert reading.timestamp == hour and simulated.reads == 1
    assert HORIZON_H == 48
    assert [t for t, _ in reading.next_hours_w] == [hour + k * 3600.0 for k in range(48)]
    assert reading.tomorrow_wh == pytest.approx(sum(simulated.day_w(int(DAY // 86400) + 1)), abs=1)
    # What is left of today: the rest of this hour and the hours after it.
    today = simulated.day_w(int(DAY // 86400))
    left = today[9] * (3600.0 - 1234.0) / 3600.0 + sum(today[10:])
    assert reading.today_remaining_wh == pytest.approx(left, abs=1)
