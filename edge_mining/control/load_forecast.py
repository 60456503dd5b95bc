"""The house's load forecast, learned from the site's own history: a same-time-of-day profile.

Every tick adds the house load (the site's load without the miners) to the current quarter
hour of the current UTC day. The forecast for a future time is the mean of that quarter hour
over the last ``days`` days that have it; a quarter hour never seen borrows the nearest one
that was, and without any history there is no forecast (the planner then falls back to the
rules). Days are UTC days: the
pattern of a household is the same whatever clock labels it (a daylight-saving shift moves it
by an hour twice a year, which a week's history absorbs).

The state is plain data (:meth:`export` / :meth:`restore`), saved by the daemon beside the
controller's memory so a restart keeps what it learned.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence

import numpy as np

BIN_S = 900.0
BINS_PER_DAY = 96
FORMAT_VERSION = 1


class HouseLoadProfile:
    """Quarter-hour means of the house load over the last ``days`` UTC days."""

    def __init__(self, days: int = 7) -> None:
        if days < 1:
            raise ValueError("days must be at least 1")
        self.days = days
        # UTC day number -> per quarter hour: energy (W * s) and seconds covered.
        self._energy: dict[int, np.ndarray] = {}
        self._seconds: dict[int, np.ndarray] = {}
        self._last_time: float | None = None
        self._last_w: float | None = None

    def observe(self, now: float, house_w: float | None) -> None:
        """The house load (W) at ``now``; it holds until the next observation (at most one
        quarter hour: a gap in the readings is not filled with a stale value)."""
        if self._last_time is not None and self._last_w is not None:
            start = self._last_time
            end = min(now, start + BIN_S)
            while start < end:
                stop = min(end, (math.floor(start / BIN_S) + 1) * BIN_S)
                self._add(start, stop - start, self._last_w)
                start = stop
        if house_w is None or not math.isfinite(house_w):
            self._last_time, self._last_w = now, None
            return
        self._last_time, self._last_w = now, max(0.0, house_w)
        self._prune(now)

    def _add(self, time: float, seconds: float, watts: float) -> None:
        day = int(time // 86400.0)
        if day not in self._energy:
            self._energy[day] = np.zeros(BINS_PER_DAY)
            self._seconds[day] = np.zeros(BINS_PER_DAY)
        index = int((time % 86400.0) // BIN_S)
        self._energy[day][index] += watts * seconds
        self._seconds[day][index] += seconds

    def _prune(self, now: float) -> None:
        oldest = int(now // 86400.0) - self.days + 1  # the current day is one of them
        for day in [d for d in self._energy if d < oldest]:
            del self._energy[day]
            del self._seconds[day]

    def profile(self) -> np.ndarray | None:
        """Mean W per quarter hour of the day (96 values), or None without any history. A
        quarter hour seen too little (under a third of it on every stored day) takes the
        nearest one that was seen, so one day of history fills the whole profile."""
        if not self._energy:
            return None
        energy = np.array(list(self._energy.values()))
        seconds = np.array(list(self._seconds.values()))
        seen = seconds >= BIN_S / 3
        count = seen.sum(axis=0)
        if not count.any():
            return None
        total = np.where(seen, energy / np.maximum(seconds, 1e-9), 0.0).sum(axis=0)
        means = np.where(count > 0, total / np.maximum(count, 1), np.nan)
        known = np.flatnonzero(count > 0)
        for i in np.flatnonzero(count == 0):
            distance = np.abs(known - i)
            distance = np.minimum(distance, BINS_PER_DAY - distance)
            means[i] = means[known[int(np.argmin(distance))]]
        return means

    def forecast(self, times: Sequence[float]) -> list[float] | None:
        """Forecast W at each of ``times`` (epoch seconds), or None without any history."""
        means = self.profile()
        if means is None:
            return None
        return [float(means[int((t % 86400.0) // BIN_S)]) for t in times]

    # ----------------------------------------------------------------- persistence

    def export(self) -> dict[str, object]:
        return {
            "version": FORMAT_VERSION,
            "days": {
                str(day): [
                    [round(float(e), 1), round(float(s), 1)]
                    for e, s in zip(self._energy[day], self._seconds[day], strict=True)
                ]
                for day in sorted(self._energy)
            },
        }

    def restore(self, data: Mapping[str, object], now: float) -> None:
        """Load what :meth:`export` gave; a malformed document raises ValueError and changes
        nothing."""
        if data.get("version") != FORMAT_VERSION:
            raise ValueError(f"load profile: unknown version {data.get('version')!r}")
        raw = data.get("days")
        if not isinstance(raw, Mapping):
            raise ValueError("load profile: 'days' must be a mapping")
        energy: dict[int, np.ndarray] = {}
        seconds: dict[int, np.ndarray] = {}
        for key, bins in raw.items():
            try:
                day = int(key)
            except (TypeError, ValueError):
                raise ValueError(f"load profile: bad day {key!r}") from None
            if not isinstance(bins, list) or len(bins) != BINS_PER_DAY:
                raise ValueError(f"load profile: day {day} needs {BINS_PER_DAY} quarter hours")
            for cell in bins:
                if (
                    not isinstance(cell, list)
                    or len(cell) != 2
                    or not all(
                        isinstance(v, int | float) and not isinstance(v, bool) and math.isfinite(v)
                        for v in cell
                    )
                    or cell[0] < 0
                    or not 0 <= cell[1] <= BIN_S
                ):
                    raise ValueError(f"load profile: day {day} has a malformed quarter hour")
            energy[day] = np.array([float(c[0]) for c in bins])
            seconds[day] = np.array([float(c[1]) for c in bins])
        self._energy, self._seconds = energy, seconds
        self._prune(now)
