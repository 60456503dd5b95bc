"""Solar forecasts for the backtest, made from the scenario's own PV series.

By default the forecast is perfect: tomorrow's energy is what the PV will really produce
tomorrow, today's remainder is what it will produce until local midnight. With
``noise_sigma`` > 0 each day's figures are multiplied by one log-normal factor (mean 1,
seeded), which models a day-ahead forecast that is right about the shape but wrong about
the clouds; the next-hours figures of a day share that day's factor.
"""

from __future__ import annotations

import numpy as np

from edge_mining.analysis.scenario import Scenario
from edge_mining.model import Forecast


class ForecastOracle:
    def __init__(self, scenario: Scenario, noise_sigma: float = 0.0, seed: int = 1) -> None:
        if noise_sigma < 0:
            raise ValueError("forecast noise must not be negative")
        self._scenario = scenario
        self._per_day = max(1, round(86400.0 / scenario.step_s))
        self._daily_wh = scenario.daily_pv_wh()
        days = len(self._daily_wh)
        rng = np.random.default_rng(seed)
        if noise_sigma > 0:
            self._factor = np.exp(rng.normal(0.0, noise_sigma, days + 1) - noise_sigma**2 / 2)
        else:
            self._factor = np.ones(days + 1)
        energy = scenario.pv_w * scenario.hours_per_step
        # Remaining energy of the day from step k on (inclusive).
        padded = np.zeros(days * self._per_day)
        padded[: scenario.steps] = energy
        by_day = padded.reshape(days, self._per_day)
        self._remaining = np.cumsum(by_day[:, ::-1], axis=1)[:, ::-1].ravel()
        self._cache_key = -1
        self._cache: Forecast | None = None

    def day_wh(self, day: int) -> float:
        """Forecast energy of local ``day`` (the last day repeats past the end)."""
        day = min(day, len(self._daily_wh) - 1)
        return float(self._daily_wh[day] * self._factor[day])

    def at(self, now: float) -> Forecast:
        """The forecast as a forecast service would publish it at ``now`` (refreshed every
        step; cached within a step)."""
        k = int((now - self._scenario.start) // self._scenario.step_s)
        if k == self._cache_key and self._cache is not None:
            return self._cache
        day = k // self._per_day
        factor = float(self._factor[min(day, len(self._factor) - 1)])
        remaining = float(self._remaining[min(k, len(self._remaining) - 1)]) * factor
        forecast = Forecast(
            timestamp=now,
            today_remaining_wh=remaining,
            tomorrow_wh=self.day_wh(day + 1),
        )
        self._cache_key, self._cache = k, forecast
        return forecast

    def next_hours_w(self, now: float, hours: int = 24) -> tuple[tuple[float, float], ...]:
        """Mean W per coming hour (not attached to every Forecast: it is costly at 5-min steps
        and the controller's rules use the daily figures)."""
        s = self._scenario
        per_hour = max(1, round(3600.0 / s.step_s))
        k = int((now - s.start) // s.step_s)
        out = []
        for h in range(hours):
            a = k + h * per_hour
            chunk = s.pv_w[a : a + per_hour]
            if len(chunk) == 0:
                break
            day = min(a // self._per_day, len(self._factor) - 1)
            out.append((s.start + a * s.step_s, float(chunk.mean() * self._factor[day])))
        return tuple(out)
