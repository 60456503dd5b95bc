"""Heating zones: a thermostat with hysteresis per zone, and the budget heat may spend.

Rules:
- Heat is wanted once the room is below ``setpoint - hysteresis`` and stays wanted until it is
  above ``setpoint + hysteresis`` (in between, the last state holds). An unknown temperature
  means no heat is wanted (never spend the budget on a guess).
- While heat is wanted the zone's miners may run beyond the surplus, within the zone's budget:
  up to ``grid_allowance_w`` of import (only when the import price is within
  ``max_import_price_per_kwh``, if set) and battery discharge while the SoC is above
  ``battery_floor_pct`` (and never at or below the controller's stop SoC).
- Surplus is used first; the budget only covers what the surplus does not.
- A ``heat_only`` zone's miners follow the thermostat: when no heat is wanted they take no
  surplus either (a heater-miner in a living room), and stop as a short miner does.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

from edge_mining.config import EconomicsConfig, HeatingConfig, HeatingZone


class Thermostat:
    """Heat wanted or not, with hysteresis around the setpoint."""

    __slots__ = ("zone", "wanted")

    def __init__(self, zone: HeatingZone) -> None:
        self.zone = zone
        self.wanted = False

    def update(self, temperature_c: float | None) -> bool:
        if temperature_c is None:
            self.wanted = False
        elif temperature_c < self.zone.setpoint_c - self.zone.hysteresis_c:
            self.wanted = True
        elif temperature_c > self.zone.setpoint_c + self.zone.hysteresis_c:
            self.wanted = False
        return self.wanted


@dataclass(slots=True)
class ZoneBudget:
    """What a zone wanting heat may spend beyond the surplus this tick (W); drawn down as used."""

    name: str
    remaining_w: float

    def take(self, watts: float) -> float:
        """Take up to ``watts`` from the budget; returns what was taken."""
        taken = min(max(0.0, watts), self.remaining_w)
        self.remaining_w -= taken
        return taken


class Heating:
    """All zones' thermostats and the miner -> zone map."""

    def __init__(self, config: HeatingConfig) -> None:
        self.config = config
        zones = config.zones if config.enabled else []
        self.thermostats = {zone.name: Thermostat(zone) for zone in zones}
        self.zone_of: dict[str, str] = {}
        for zone in zones:
            for miner in zone.miners:
                self.zone_of.setdefault(miner, zone.name)  # first zone naming a miner wins

    def update(self, temperatures_c: Mapping[str, float]) -> dict[str, bool]:
        return {
            name: thermostat.update(temperatures_c.get(name))
            for name, thermostat in self.thermostats.items()
        }

    def heat_only(self, zone: str) -> bool:
        thermostat = self.thermostats.get(zone)
        return thermostat is not None and thermostat.zone.heat_only

    def wants_heat(self, miner: str) -> bool:
        zone = self.zone_of.get(miner)
        return zone is not None and self.thermostats[zone].wanted

    def budgets(
        self,
        *,
        soc_pct: float | None,
        stop_soc_pct: float,
        economics: EconomicsConfig,
    ) -> dict[str, ZoneBudget]:
        """Budgets of the zones that want heat now."""
        budgets = {}
        for name, thermostat in self.thermostats.items():
            if not thermostat.wanted:
                continue
            zone = thermostat.zone
            watts = 0.0
            price_limit = zone.max_import_price_per_kwh
            if price_limit is None or economics.import_price_per_kwh <= price_limit:
                watts += zone.grid_allowance_w
            floor = max(zone.battery_floor_pct, stop_soc_pct)
            if soc_pct is not None and soc_pct > floor:
                watts = float("inf")  # the floor, not a rate, bounds the battery's share
            budgets[name] = ZoneBudget(name, watts)
        return budgets
