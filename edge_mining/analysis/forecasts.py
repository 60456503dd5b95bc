"""Solar forecasts for the backtest, made from the scenario's own PV series.

A day-ahead forecast as a forecast service publishes it: hourly mean power for the next
``HORIZON_H`` hours, refreshed every hour (its timestamp is the start of the hour), with today's
remaining energy and tomorrow's energy summed from those hours.

Forecast error (``noise_sigma`` > 0; 0 is a perfect forecast, an option, not the default of
the backtest): each local day's PV is multiplied by one log-normal factor (mean 1, sigma
``noise_sigma``): the clouds the forecast got wrong; and each hour of it by a log-normal
*shape* error (sigma ``hourly_sigma``, by default the same, correlated from hour to hour with
``SHAPE_CORRELATION``, an AR(1)), rescaled so the day's total keeps its day factor: the
forecast puts the day's energy in the wrong hours. No hour is forecast above the plant's
highest hourly output. The errors are seeded, and the forecast of a given hour is the same
whenever it is issued (a day-ahead forecast, not improved during the day): the controller
sees the real PV only through its own measurements.
"""

from __future__ import annotations

import math

import numpy as np

from edge_mining.analysis.scenario import Scenario
from edge_mining.model import Forecast

HORIZON_H = 48
SHAPE_CORRELATION = 0.8


class ForecastOracle:
    def __init__(
        self,
        scenario: Scenario,
        noise_sigma: float = 0.0,
        seed: int = 1,
        hourly_sigma: float | None = None,
    ) -> None:
        if noise_sigma < 0 or (hourly_sigma is not None and hourly_sigma < 0):
            raise ValueError("forecast noise must not be negative")
        shape_sigma = noise_sigma if hourly_sigma is None else hourly_sigma
        self._scenario = scenario
        s = scenario
        # Actual mean W of each hour from the scenario's start (a partial last hour counts).
        hours = max(1, math.ceil(s.steps * s.step_s / 3600.0))
        edges = s.start + np.arange(s.steps + 1) * s.step_s
        cumulative = np.concatenate([[0.0], np.cumsum(s.pv_w * s.step_s)])
        hour_edges = np.minimum(s.start + np.arange(hours + 1) * 3600.0, edges[-1])
        energy = np.diff(np.interp(hour_edges, edges, cumulative))
        spans = np.diff(hour_edges)
        actual = np.where(spans > 0, energy / np.maximum(spans, 1e-9), 0.0)
        self._actual_w = actual
        per_day = 24
        days = math.ceil(hours / per_day)
        rng = np.random.default_rng(seed)
        day_factor = np.ones(days)
        shape = np.ones(hours)
        if noise_sigma > 0:
            day_factor = np.exp(rng.normal(0.0, noise_sigma, days) - noise_sigma**2 / 2)
        if shape_sigma > 0:
            z = np.empty(hours)
            z[0] = rng.normal()
            innovations = rng.normal(0.0, 1.0, hours)
            root = math.sqrt(1.0 - SHAPE_CORRELATION**2)
            for h in range(1, hours):
                z[h] = SHAPE_CORRELATION * z[h - 1] + root * innovations[h]
            shape = np.exp(shape_sigma * z - shape_sigma**2 / 2)
        forecast = np.zeros(hours)
        cap = float(actual.max()) if actual.size else 0.0
        for d in range(days):
            a, b = d * per_day, min(hours, (d + 1) * per_day)
            day_actual = actual[a:b]
            total = float(day_actual.sum())
            if total <= 0:
                continue
            shaped = day_actual * shape[a:b]
            shaped *= total * day_factor[d] / float(shaped.sum())
            forecast[a:b] = np.minimum(shaped, cap)
        self._forecast_w = forecast
        self._day_factor = day_factor
        self._cache_hour = -1
        self._cache: Forecast | None = None

    @property
    def hourly_w(self) -> np.ndarray:
        """The forecast mean W of every hour of the scenario (a copy)."""
        return self._forecast_w.copy()

    def day_wh(self, day: int) -> float:
        """Forecast energy of local ``day`` (the last day repeats past the end)."""
        days = math.ceil(len(self._forecast_w) / 24)
        day = min(max(day, 0), days - 1)
        return float(self._forecast_w[day * 24 : (day + 1) * 24].sum())

    def at(self, now: float) -> Forecast:
        """The forecast as published in the hour that contains ``now``."""
        s = self._scenario
        hour = int((now - s.start) // 3600.0)
        if hour != self._cache_hour or self._cache is None:
            self._cache_hour, self._cache = hour, self._issue(hour)
        cached = self._cache
        # Today's remainder from now on: the current hour prorated.
        fc = self._forecast_w
        h = min(max(hour, 0), len(fc) - 1)
        hour_start = s.start + hour * 3600.0
        day_end_hour = (hour // 24 + 1) * 24
        left_in_hour = max(0.0, hour_start + 3600.0 - now) / 3600.0
        remaining = float(fc[h]) * left_in_hour + float(fc[h + 1 : day_end_hour].sum())
        return Forecast(
            timestamp=cached.timestamp,
            today_remaining_wh=remaining,
            tomorrow_wh=cached.tomorrow_wh,
            next_hours_w=cached.next_hours_w,
        )

    def _issue(self, hour: int) -> Forecast:
        s = self._scenario
        fc = self._forecast_w
        start = s.start + hour * 3600.0
        last = len(fc)
        hours = tuple(
            (start + k * 3600.0, round(float(fc[hour + k]), 1))
            for k in range(HORIZON_H)
            if 0 <= hour + k < last
        )
        return Forecast(
            timestamp=start,
            today_remaining_wh=None,
            tomorrow_wh=self.day_wh(hour // 24 + 1),
            next_hours_w=hours,
        )

    def next_hours_w(self, now: float, hours: int = 24) -> tuple[tuple[float, float], ...]:
        """Mean W per coming hour, from the start of the current hour."""
        return self.at(now).next_hours_w[:hours]
