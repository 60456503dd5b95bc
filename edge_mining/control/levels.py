"""Miners whose power is one of a few levels (work modes, profiles, presets): which level.

A level miner cannot follow the surplus watt by watt: it runs at one of its levels, and every
change may cost it a ramp (an Avalon's work mode) or a restart (a stock Antminer's, a
Whatsminer's). So the follow pass, which gives a continuous miner a target between its
minimum and maximum, gives a level miner the highest level that fits in its share, with the
same anti-flapping rules as a start or stop:

- *Dwell*: after a level change (up or down) the miner keeps its level for ``level_dwell_s``
  (its own setting), unless the battery floor is breached or the shortfall exceeds
  ``stop_deficit_w`` (the house first, then the hardware). A level that still fits but whose
  power another miner would use better (the marginal sharing) is left after the dwell.
- *Hysteresis*: a step up needs room above the higher level, a step down waits until the
  share is short of the current level: by ``power_deadband_w``, or half the step between the
  two levels when the levels are closer than that (a Bitaxe's frequencies are a watt apart).
  A surplus hovering around a level's power does not flip the miner.

The water-filling of :mod:`edge_mining.control.allocation` sees a level miner's steps as
indivisible pieces (level to next level, with its marginal hashrate per watt), so continuous
and level miners share the pool by marginal efficiency. Pure, time passed in.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from edge_mining.config import ControlConfig
from edge_mining.model import PowerLevel


@dataclass(frozen=True, slots=True)
class LevelStep:
    """The choice for one tick: the level, and why."""

    level: PowerLevel
    reason: str


def within(levels: Sequence[PowerLevel], low_w: float, high_w: float) -> tuple[PowerLevel, ...]:
    """The levels inside ``[low_w, high_w]`` (the configured and reported limits), lowest
    first; the lowest level when none is inside (a level miner always has one to run at)."""
    ordered = sorted(levels, key=lambda lv: lv.power_w)
    inside = tuple(lv for lv in ordered if low_w - 0.5 <= lv.power_w <= high_w + 0.5)
    return inside or tuple(ordered[:1])


def highest_fitting(levels: Sequence[PowerLevel], watts: float) -> PowerLevel:
    """The highest level drawing no more than ``watts`` (the lowest when none does)."""
    fitting = [lv for lv in levels if lv.power_w <= watts + 0.5]
    return max(fitting, key=lambda lv: lv.power_w) if fitting else levels[0]


def current_level(
    levels: Sequence[PowerLevel], name: str | None, target_w: float | None
) -> PowerLevel | None:
    """The level the miner runs at: by the name it reports, else by the last target."""
    if name is not None:
        for level in levels:
            if level.name == name:
                return level
    if target_w is not None:
        for level in levels:
            if abs(level.power_w - target_w) < 0.5:
                return level
    return None


def choose(
    levels: Sequence[PowerLevel],
    *,
    desired_w: float,
    available_w: float,
    current: PowerLevel | None,
    since_change_s: float,
    dwell_s: float,
    control: ControlConfig,
    urgent: bool = False,
) -> LevelStep:
    """The level to run at this tick (see the module doc).

    ``desired_w`` is the miner's share of the pool (whole level steps), ``available_w`` what
    it could draw at most (its minimum plus all that is free when its turn comes).
    """
    fit = highest_fitting(levels, min(desired_w, available_w))
    if current is None:
        return LevelStep(fit, f"level {fit.name} ({fit.power_w:.0f} W)")
    if fit.power_w > current.power_w:
        band = _band(levels, current, above=True, control=control)
        if available_w < fit.power_w + band:
            # Not enough room above the higher level: a lower step, or stay (hysteresis).
            fit = highest_fitting(levels, min(desired_w, available_w - band))
            if fit.power_w <= current.power_w:
                return LevelStep(current, f"level {current.name}: not enough room to step up")
        if since_change_s < dwell_s:
            left = dwell_s - since_change_s
            return LevelStep(
                current, f"level {current.name}: room for {fit.name}, dwell {left:.0f} s left"
            )
        return LevelStep(fit, f"level up to {fit.name} ({fit.power_w:.0f} W)")
    if fit.power_w < current.power_w:
        short = current.power_w - available_w
        if urgent or short > control.stop_deficit_w:
            return LevelStep(fit, f"level down to {fit.name} ({fit.power_w:.0f} W) at once")
        band = _band(levels, current, above=False, control=control)
        if 0 < short <= band:
            return LevelStep(current, f"level {current.name}: {short:.0f} W short, deadband")
        if since_change_s < dwell_s:
            left = dwell_s - since_change_s
            return LevelStep(current, f"level {current.name}: dwell {left:.0f} s left")
        return LevelStep(fit, f"level down to {fit.name} ({fit.power_w:.0f} W)")
    return LevelStep(current, f"level {current.name}")


def _band(
    levels: Sequence[PowerLevel], current: PowerLevel, *, above: bool, control: ControlConfig
) -> float:
    """The hysteresis around ``current`` towards its neighbour above (or below)."""
    powers = sorted(lv.power_w for lv in levels)
    if above:
        neighbours = [p for p in powers if p > current.power_w]
        gap = neighbours[0] - current.power_w if neighbours else control.power_deadband_w
    else:
        neighbours = [p for p in powers if p < current.power_w]
        gap = current.power_w - neighbours[-1] if neighbours else control.power_deadband_w
    return min(control.power_deadband_w, gap / 2)
