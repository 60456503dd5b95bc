"""A house-load history for a simulated plant: the days before now, as the daemon would have
learned them from the plant's readings (``control/load_forecast.py``).

The demo starts with it, so that its planner has a house-load forecast from the first minute
instead of learning one as it goes (the first quarter hour it would otherwise plan with one
flat value). It holds nothing the daemon would not know after running those days: the plant's
load profile, sampled as the control tick sees it, noise included.
"""

from __future__ import annotations

from edge_mining.control.load_forecast import HouseLoadProfile
from edge_mining.sim.plant import Plant

SAMPLE_S = 300.0


def house_load_history(
    plant: Plant, until: float, days: int, sample_s: float = SAMPLE_S
) -> HouseLoadProfile:
    """The profile learned from the plant's house load over the ``days`` days before
    ``until`` (epoch seconds), one reading every ``sample_s``."""
    profile = HouseLoadProfile(days)
    t = until - days * 86400.0
    while t < until:
        profile.observe(t, plant.house_load_w(t))
        t += sample_s
    profile.observe(until, plant.house_load_w(until))
    return profile
