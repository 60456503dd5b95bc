"""How much power the site could give the miners: the site's energy balance.

The balance is measured at the meter and the battery, so it does not depend on what the
inverter calls "load":

    surplus = miners' own draw + battery charging power - grid import

(``battery_power_w`` > 0 charging, ``grid_power_w`` > 0 importing.) Adding the miners' draw back
makes the figure invariant to the miners: it is what they *could* use, not what is left over.
Only reachable miners' draw is added back; an unreachable miner's power is unknown, so whatever
it really draws stays counted as load (conservative).

- Grid-tied sites (``site: grid_tied``, or ``auto`` with a grid reading): export at the meter is
  surplus. A grid-tied site without a grid reading is *missing data* (never mine blind).
- Off-grid / hybrid sites: the battery is the feedback signal; charging power is surplus.
- Neither battery nor grid power known: ``pv - load + miners' draw`` (the inverter's load
  includes the miners plugged into it).
- Hidden surplus: when the battery is full (``>= full_soc_pct``, or the source reports PV
  curtailed) and it is neither discharging nor the grid importing/exporting beyond
  ``margin_w``, PV is probably being curtailed: the measurement cannot see how much more there
  is. The estimate then assumes the miners' confirmed draw plus one ``probe_step_w`` is
  available; the power follower raises targets by that step at most once per
  ``power_change_interval_s``, and as soon as the battery discharges the hidden condition ends
  and the measured balance pulls the miners back. After such a failed probe the controller
  waits ``PROBE_BACKOFF_INTERVALS`` change intervals (at least ``PROBE_BACKOFF_MIN_S``) before
  probing again, so a miner at the edge of the PV does not saw up and down every interval.
- Hidden surplus and on/off miners (or a miner whose minimum is above one probe step): the only
  way to learn is to try. One *probe start* at a time is allowed when the battery is full, at
  or above the start SoC, nothing is ramping and no running miner can take a probe step; it is
  bounded by the start delay, the daily start limit and ``PROBE_START_BACKOFF_S``. A failed
  probe costs at most the minimum run time of the miner on the battery (which was full).
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum

from edge_mining.config import ControlConfig
from edge_mining.model import EnergyReading

PROBE_BACKOFF_INTERVALS = 10
PROBE_BACKOFF_MIN_S = 300.0
# A start tried on a hidden surplus that had to be stopped for lack of power blocks further
# probe starts for this long, doubling with each failure; reset by a probe start that
# survives its minimum run time, and by a new (local) day. (Evening PV falls: retrying every
# few minutes would only burn starts and battery.)
PROBE_START_BACKOFF_S = 1800.0


def probe_backoff_s(control: ControlConfig) -> float:
    return max(PROBE_BACKOFF_MIN_S, PROBE_BACKOFF_INTERVALS * control.power_change_interval_s)


class SiteKind(StrEnum):
    GRID_TIED = "grid_tied"
    OFF_GRID = "off_grid"


@dataclass(frozen=True, slots=True)
class SurplusEstimate:
    kind: SiteKind
    # Measured balance: what the miners could draw without import or battery discharge (W).
    surplus_w: float
    # True when PV is probably curtailed and the balance under-reads.
    hidden: bool
    # Extra power assumed available beyond the measurement while probing (W).
    probe_w: float

    @property
    def estimate_w(self) -> float:
        return self.surplus_w + self.probe_w


def site_kind(energy: EnergyReading, control: ControlConfig) -> SiteKind:
    if control.site == "grid_tied":
        return SiteKind.GRID_TIED
    if control.site == "off_grid":
        return SiteKind.OFF_GRID
    return SiteKind.GRID_TIED if energy.grid_power_w is not None else SiteKind.OFF_GRID


def measured_surplus(energy: EnergyReading, miners_draw_w: float, kind: SiteKind) -> float | None:
    """The balance, or None when the reading cannot support one (missing data)."""
    battery = energy.battery_power_w
    grid = energy.grid_power_w
    if kind is SiteKind.GRID_TIED and grid is None:
        return None
    if battery is not None or grid is not None:
        return miners_draw_w + (battery or 0.0) - (grid or 0.0)
    pv = energy.total_pv_power_w
    if pv is not None and energy.load_power_w is not None:
        return pv - energy.load_power_w + miners_draw_w
    return None


def is_hidden(energy: EnergyReading, control: ControlConfig) -> bool:
    """Battery full (or PV reported curtailed) and nothing flowing that would show a surplus."""
    soc = energy.battery_soc_pct
    battery = energy.battery_power_w
    grid = energy.grid_power_w
    full = soc is not None and soc >= control.full_soc_pct
    if not (full or energy.pv_curtailed):
        return False
    if battery is not None and battery < -control.margin_w:
        return False  # the battery carries part of the load: no hidden surplus
    if battery is None and energy.pv_curtailed is not True:
        return False
    return grid is None or abs(grid) <= control.margin_w


def estimate_surplus(
    energy: EnergyReading,
    control: ControlConfig,
    *,
    miners_draw_w: float,
    unconfirmed_w: float,
    probe_allowed: bool,
) -> SurplusEstimate | None:
    """The site's surplus this tick.

    ``unconfirmed_w``: power the running miners were given but do not draw yet (starting or
    ramping). With a hidden surplus it is assumed available (PV was keeping up so far).
    ``probe_allowed``: add a probe step (the caller says no while miners are still ramping to
    what they were given, or while backing off after a failed probe).
    """
    kind = site_kind(energy, control)
    surplus = measured_surplus(energy, miners_draw_w, kind)
    if surplus is None:
        return None
    if not is_hidden(energy, control):
        return SurplusEstimate(kind, surplus, False, 0.0)
    probe = unconfirmed_w + (control.probe_step_w if probe_allowed else 0.0)
    return SurplusEstimate(kind, surplus, True, probe)
