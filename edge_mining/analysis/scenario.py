"""The inputs every policy of one backtest shares: PV and house load on a fixed step grid.

Step ``k`` covers ``[start + k*step_s, start + (k+1)*step_s)``; ``pv_w[k]`` and ``load_w[k]``
are the mean powers over that interval. Days are local standard time days
(``utc_offset_s``), which is what a daily forecast and the starts-per-day count refer to.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from edge_mining.sim.series import read_power_rows


@dataclass(frozen=True)
class Scenario:
    start: float  # epoch seconds, a local midnight
    step_s: float
    pv_w: np.ndarray
    load_w: np.ndarray
    utc_offset_s: float = 0.0
    name: str = ""

    def __post_init__(self) -> None:
        if self.step_s <= 0:
            raise ValueError("step must be above 0")
        if len(self.pv_w) != len(self.load_w) or len(self.pv_w) == 0:
            raise ValueError("PV and load series must have the same, non-zero length")

    @property
    def steps(self) -> int:
        return len(self.pv_w)

    @property
    def hours_per_step(self) -> float:
        return self.step_s / 3600.0

    @property
    def days(self) -> float:
        return self.steps * self.step_s / 86400.0

    def day_index(self, time: float) -> int:
        """Local day number of ``time`` counted from the scenario's first day."""
        return int((time - self.start) // 86400.0)

    def daily_pv_wh(self) -> np.ndarray:
        """PV energy per local day (the last day may be partial)."""
        per_day = max(1, round(86400.0 / self.step_s))
        days = math.ceil(self.steps / per_day)
        padded = np.zeros(days * per_day)
        padded[: self.steps] = self.pv_w
        return padded.reshape(days, per_day).sum(axis=1) * self.hours_per_step

    def slice_days(self, first_day: int, days: int) -> Scenario:
        per_day = round(86400.0 / self.step_s)
        a, b = first_day * per_day, (first_day + days) * per_day
        if not 0 <= a < b <= self.steps:
            raise ValueError(f"days {first_day}..{first_day + days} outside the period")
        return Scenario(
            start=self.start + first_day * 86400.0,
            step_s=self.step_s,
            pv_w=self.pv_w[a:b].copy(),
            load_w=self.load_w[a:b].copy(),
            utc_offset_s=self.utc_offset_s,
            name=self.name,
        )


def step_midpoints(start: float, step_s: float, steps: int) -> np.ndarray:
    return start + (np.arange(steps) + 0.5) * step_s


def resample_means(
    sample_times: np.ndarray, sample_values: np.ndarray, start: float, step_s: float, steps: int
) -> np.ndarray:
    """Values on the step grid, linear between samples that stand for interval midpoints.

    Hourly means are placed at the middle of their hour and interpolated; this keeps the
    energy of smooth curves and does not invent sub-hourly variability.
    """
    order = np.argsort(sample_times)
    values = np.interp(
        step_midpoints(start, step_s, steps), sample_times[order], sample_values[order]
    )
    return np.clip(values, 0.0, None)


def read_power_csv(path: Path) -> tuple[np.ndarray, np.ndarray]:
    """``time,power_w`` rows (epoch seconds or ISO 8601, UTC when naive; a header line and
    ``#`` comments are allowed). Each value is the mean power of the interval it starts."""
    times, values = read_power_rows(path)
    t, v = np.asarray(times), np.asarray(values)
    # Samples start their interval: move them to the interval's middle for interpolation.
    spacing = float(np.median(np.diff(t)))
    return t + spacing / 2, v
