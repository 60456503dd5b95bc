"""Power following: move a miner's power target towards its share, in bounded, rate-limited steps.

Rules:
- A target always lies inside the miner's [min, max] (config limits, narrowed by the miner's
  own reported target limits when they make sense).
- Raising: at most once per ``power_change_interval_s`` and by at most ``power_step_w``.
- Lowering is a safety move (the household pays for every watt above the surplus), so a cut
  larger than ``stop_deficit_w`` (or any cut when ``urgent``: stale data, battery floor) is
  applied at once and in full. A smaller cut is treated like noise: it waits for the interval.
- Changes smaller than ``power_deadband_w`` are not sent at all (no command spam).
"""

from __future__ import annotations

from edge_mining.config import ControlConfig, MinerConfig
from edge_mining.model import MinerState


def target_limits(config: MinerConfig, state: MinerState | None) -> tuple[float, float]:
    """The [min, max] a target may take: config limits, narrowed by the miner's own ones."""
    low, high = config.min_power_w, config.max_power_w
    if state is not None:
        if state.target_min_w is not None:
            low = max(low, state.target_min_w)
        if state.target_max_w is not None:
            high = min(high, state.target_max_w)
    if low > high:  # the miner reports nonsense: the configuration wins
        return config.min_power_w, config.max_power_w
    return low, high


def clamp(value: float, low: float, high: float) -> float:
    return low if value < low else high if value > high else value


def next_target(
    current: float,
    desired: float,
    *,
    low: float,
    high: float,
    since_change_s: float,
    control: ControlConfig,
    urgent: bool = False,
) -> float:
    """The target to command now (``current`` when nothing should change)."""
    current = clamp(current, low, high)
    desired = clamp(desired, low, high)
    delta = desired - current
    if abs(delta) < control.power_deadband_w and not (urgent and delta < 0):
        return current
    if delta < 0:
        if urgent or -delta > control.stop_deficit_w:
            return desired
        return desired if since_change_s >= control.power_change_interval_s else current
    if since_change_s < control.power_change_interval_s:
        return current
    return min(desired, current + control.power_step_w)
