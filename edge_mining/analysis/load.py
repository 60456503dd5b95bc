"""House load: a BDEW standard load profile scaled to annual kWh, or a measured CSV.

The profile is demandlib's ``H25``, BDEW's 2025 household profile (quarter-hourly, with its
seasonal dynamisation), evaluated on the scenario's local calendar and scaled so the year
sums to the requested energy. BDEW profiles are German (holidays are not applied); they
give the shape of a household day, which is what matters for surplus timing.
"""

from __future__ import annotations

import warnings
from pathlib import Path

import numpy as np
import pandas as pd

from edge_mining.analysis.scenario import read_power_csv, resample_means

_QUARTER_S = 900.0


def bdew_household_w(
    annual_kwh: float, start: float, step_s: float, steps: int, utc_offset_s: float
) -> np.ndarray:
    """Mean house load (W) per step, from the BDEW H25 profile scaled to ``annual_kwh``."""
    if annual_kwh < 0:
        raise ValueError("annual load must not be negative")
    # demandlib works on naive local timestamps: quarter hours covering the whole period.
    first = pd.Timestamp(start + utc_offset_s, unit="s").floor("D")
    quarters = int(np.ceil((steps * step_s + 86400.0) / _QUARTER_S))
    index = pd.date_range(first, periods=quarters, freq="15min")
    from demandlib import bdew

    with warnings.catch_warnings():
        # demandlib uses pandas idioms newer pandas deprecates; nothing we can act on.
        warnings.simplefilter("ignore")
        profile = np.asarray(bdew.H25(index), dtype=float)
    # Scale: the profile's mean power over a year equals annual_kwh / 8760 h.
    year = pd.date_range(pd.Timestamp(first.year, 1, 1), periods=35040, freq="15min")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        year_mean = float(np.mean(np.asarray(bdew.H25(year), dtype=float)))
    scale = annual_kwh * 1000.0 / 8760.0 / year_mean if year_mean > 0 else 0.0
    centres = (
        (index - pd.Timestamp("1970-01-01")).total_seconds().to_numpy()
        - utc_offset_s
        + _QUARTER_S / 2
    )
    return resample_means(centres, profile * scale, start, step_s, steps)


def csv_load_w(path: Path, start: float, step_s: float, steps: int) -> np.ndarray:
    """Mean house load (W) per step from a ``time,power_w`` CSV."""
    times, values = read_power_csv(path)
    return resample_means(times, values, start, step_s, steps)
