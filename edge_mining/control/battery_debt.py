"""What mining owes the battery: how much less it holds than it would had the miners never run
(off-grid, where the battery is the house's only store of energy).

A plan mines from the battery when its forecast says the sun will refill it. When the refill
falls short (the forecast was too bright, or the miners took the last few per cent of a nearly
full battery), the gap stays, night after night, and a run of dark days beyond the plan's
horizon turns it into load the house would otherwise have had. The controller repays it first
(see ``controller``).

The debt is counted from power readings, not from SoC (an inverter's SoC is too coarse and too
noisy to compare): each tick adds what the battery would have taken (or given) without the
miners, within its power limits, less what it took (or gave), and it is never more than the
room left in the battery (without the miners it would at most be full). It is cleared once
the battery is full: at its maximum SoC, or at the controller's ``full_soc_pct`` with no
charge flowing (an inverter in float that never reports 100 %).
"""

from __future__ import annotations

from edge_mining.config import PlannerConfig
from edge_mining.model import EnergyReading

# Readings further apart than this are not integrated (a gap in the data is not a flow).
MAX_STEP_S = 900.0
# Charging below this (W) counts as no charge flowing.
IDLE_CHARGE_W = 50.0


class BatteryDebt:
    """The energy mining owes the battery (module doc), ``debt_wh``."""

    def __init__(self, config: PlannerConfig, full_soc_pct: float) -> None:
        self.config = config
        self.full_soc_pct = full_soc_pct
        self._time: float | None = None
        self.debt_wh = 0.0

    @property
    def capacity_wh(self) -> float:
        return (self.config.battery_kwh or 0.0) * 1000.0

    def observe(self, now: float, energy: EnergyReading | None, house_w: float | None) -> None:
        """Count this tick (``energy`` None: the data is missing or stale)."""
        soc = energy.battery_soc_pct if energy is not None else None
        pv = energy.total_pv_power_w if energy is not None else None
        battery_w = energy.battery_power_w if energy is not None else None
        if soc is None or pv is None or battery_w is None or house_w is None:
            self._time = None  # no integration across a gap; the debt is kept
            return
        config = self.config
        if self._time is not None:
            hours = min(max(0.0, now - self._time), MAX_STEP_S) / 3600.0
            net = pv - house_w
            without_w = min(config.battery_max_charge_w, max(-config.battery_max_discharge_w, net))
            self.debt_wh = max(0.0, self.debt_wh + (without_w - battery_w) * hours)
        self._time = now
        # Without the miners the battery would at most be full: that bounds what is owed.
        room_wh = self.capacity_wh * max(0.0, config.battery_max_soc_pct - soc) / 100.0
        self.debt_wh = min(self.debt_wh, room_wh)
        charging = battery_w > IDLE_CHARGE_W
        if soc >= config.battery_max_soc_pct - 0.5 or (soc >= self.full_soc_pct and not charging):
            self.debt_wh = 0.0

    def owed(self, tolerance_pct: float) -> bool:
        """More than ``tolerance_pct`` of the capacity is owed."""
        return self.debt_wh > self.capacity_wh * tolerance_pct / 100.0
