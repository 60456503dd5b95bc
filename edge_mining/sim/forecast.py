"""A day-ahead solar forecast of the simulated plant, for the demo (``forecast.type: simulated``).

The simulated plant knows its own PV (clear sky and clouds, ``sim/plant.py``); a forecast
service does not, so this forecast is the plant's PV with the error of a real day-ahead
forecast, the model the backtest uses (``analysis/forecasts.py``):

- each UTC day's energy is off by one log-normal factor (mean 1, sigma ``error_sigma``): the
  clouds the forecast got wrong;
- each hour's share of the day by another (the same sigma, correlated from hour to hour:
  AR(1), ``SHAPE_CORRELATION``), rescaled so that the day keeps its factor: the day's energy in
  the wrong hours;
- no hour above the plant's clear sky (or above what the plant really makes, if more).

The errors are seeded by the plant's seed and the day: the forecast of an hour is the same
whenever it is issued (a day-ahead forecast, not improved during the day) and in every run of
the demo, so the controller sees the real PV only through its own readings. Like
Forecast.Solar it is issued every hour (its timestamp is the start of the hour) for the next
``HORIZON_H`` hours. It runs on the daemon's clock (the demo's scaled time) and never steps the
plant: it only reads the plant's PV profile.
"""

from __future__ import annotations

import math
from collections.abc import Callable

import numpy as np

from edge_mining.clock import Clock, WallClock
from edge_mining.config import ForecastConfig
from edge_mining.model import Forecast
from edge_mining.sim.plant import Plant, clear_sky_pv_w

HORIZON_H = 48
SHAPE_CORRELATION = 0.8
# Samples per hour of the plant's PV for an hour's mean (its clouds pass in 10 minutes).
SAMPLES_PER_HOUR = 12
# Days of forecast kept (the current one, the next two and the one before).
CACHED_DAYS = 4
_SALT = 0x5F0CA57


class SimulatedForecast:
    """The simulated plant's PV, hour by hour, with a day-ahead forecast's error."""

    def __init__(self, config: ForecastConfig, plant: Plant, *, clock: Clock | None = None) -> None:
        self.name = "simulated forecast"
        self.plant = plant
        self.clock: Clock = clock or WallClock()
        self.error_sigma = config.error_sigma
        self.reads = 0
        self._days: dict[int, np.ndarray] = {}

    async def read(self) -> Forecast:
        self.reads += 1
        return self.at(self.clock.now())

    def at(self, now: float) -> Forecast:
        """The forecast as issued in the hour that holds ``now``."""
        hour = math.floor(now / 3600.0) * 3600.0
        hours = tuple(
            (hour + k * 3600.0, round(self.hour_w(hour + k * 3600.0), 1)) for k in range(HORIZON_H)
        )
        day = math.floor(now / 86400.0)
        today = self.day_w(day)
        index = int((hour - day * 86400.0) // 3600.0)
        left_in_hour = (hour + 3600.0 - now) / 3600.0
        remaining = float(today[index]) * left_in_hour + float(today[index + 1 :].sum())
        return Forecast(
            timestamp=hour,
            today_remaining_wh=round(remaining, 1),
            tomorrow_wh=round(float(self.day_w(day + 1).sum()), 1),
            next_hours_w=hours,
        )

    def hour_w(self, start: float) -> float:
        """The forecast mean W of the hour starting at ``start`` (a whole UTC hour)."""
        day = math.floor(start / 86400.0)
        return float(self.day_w(day)[int((start - day * 86400.0) // 3600.0)])

    def day_w(self, day: int) -> np.ndarray:
        """The forecast mean W of each hour of UTC day ``day`` (days since the epoch)."""
        cached = self._days.get(day)
        if cached is None:
            cached = self._forecast_day(day)
            self._days[day] = cached
            while len(self._days) > CACHED_DAYS:  # the day farthest from this one goes
                del self._days[max(self._days, key=lambda d: abs(d - day))]
        return cached

    def _forecast_day(self, day: int) -> np.ndarray:
        actual = self._hourly_means(day, self.plant.pv_potential_w)
        sigma = self.error_sigma
        total = float(actual.sum())
        if sigma <= 0.0 or total <= 0.0:
            return actual
        c = self.plant.config
        clear = self._hourly_means(day, lambda t: clear_sky_pv_w(t, c.latitude, c.pv_kwp))
        rng = np.random.default_rng([c.seed & 0xFFFFFFFF, _SALT, day])
        factor = math.exp(rng.normal(0.0, sigma) - sigma**2 / 2)
        z = np.empty(24)
        z[0] = rng.normal()
        root = math.sqrt(1.0 - SHAPE_CORRELATION**2)
        for h in range(1, 24):
            z[h] = SHAPE_CORRELATION * z[h - 1] + root * rng.normal()
        shaped = actual * np.exp(sigma * z - sigma**2 / 2)
        shaped *= total * factor / float(shaped.sum())
        return np.minimum(shaped, np.maximum(clear, actual))

    @staticmethod
    def _hourly_means(day: int, power: Callable[[float], float]) -> np.ndarray:
        start = day * 86400.0
        step = 3600.0 / SAMPLES_PER_HOUR
        samples = [power(start + (i + 0.5) * step) for i in range(24 * SAMPLES_PER_HOUR)]
        return np.array(samples, float).reshape(24, SAMPLES_PER_HOUR).mean(axis=1)

    async def close(self) -> None:
        return None
