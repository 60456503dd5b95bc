"""Battery protection: the stop SoC that follows tomorrow's forecast, and the battery's budget.

Rules (documented for installers):

- The stop SoC is ``stop_soc_sunny_pct`` when tomorrow's forecast is at or above
  ``forecast_sunny_kwh``, ``stop_soc_cloudy_pct`` at or below ``forecast_cloudy_kwh``, linear in
  between; ``stop_soc_pct`` when there is no forecast or it is older than ``FORECAST_MAX_AGE_S``
  (its "tomorrow" would already be today). This generalises the seed's two automations.
- Below ``start_soc_pct`` charging the battery comes first: power flowing into the battery is
  not offered to the miners (only export, or what the miners already draw, is).
- Above the stop SoC the miners may cause up to ``battery_allowance_w`` of discharge to keep
  running; to *start* on the battery the SoC must be at least ``start_soc_pct``.
- At or below the stop SoC no discharge is allowed at all, and a discharge beyond ``margin_w``
  while miners run is a *hard floor*: the controller cuts the miners that cause it at once,
  without waiting for the stop delay or the minimum on-time (the floor is never traded for
  hardware comfort).
"""

from __future__ import annotations

from dataclasses import dataclass

from edge_mining.config import ControlConfig
from edge_mining.model import EnergyReading, Forecast

FORECAST_MAX_AGE_S = 24 * 3600.0


def stop_soc_for(control: ControlConfig, forecast: Forecast | None, now: float) -> float:
    """The effective stop SoC (%) for tomorrow's forecast."""
    if forecast is None or forecast.tomorrow_wh is None:
        return control.stop_soc_pct
    if now - forecast.timestamp > FORECAST_MAX_AGE_S:
        return control.stop_soc_pct
    kwh = forecast.tomorrow_wh / 1000.0
    if kwh >= control.forecast_sunny_kwh:
        return control.stop_soc_sunny_pct
    if kwh <= control.forecast_cloudy_kwh:
        return control.stop_soc_cloudy_pct
    fraction = (kwh - control.forecast_cloudy_kwh) / (
        control.forecast_sunny_kwh - control.forecast_cloudy_kwh
    )
    return control.stop_soc_cloudy_pct + fraction * (
        control.stop_soc_sunny_pct - control.stop_soc_cloudy_pct
    )


@dataclass(frozen=True, slots=True)
class BatteryBudget:
    """What the battery means for mining this tick."""

    soc_pct: float | None
    stop_soc_pct: float
    # Charging power kept for the battery (not offered to miners), W.
    charge_reserve_w: float
    # Discharge miners may cause to keep running / to start, W.
    allowance_keep_w: float
    allowance_start_w: float
    # At or below the stop SoC.
    at_floor: bool
    # At the floor and discharging beyond the margin: cut miners now.
    floor_breached: bool

    @property
    def has_battery(self) -> bool:
        return self.soc_pct is not None


def battery_budget(
    energy: EnergyReading, control: ControlConfig, stop_soc_pct: float
) -> BatteryBudget:
    soc = energy.battery_soc_pct
    power = energy.battery_power_w
    if soc is None:
        return BatteryBudget(None, stop_soc_pct, 0.0, 0.0, 0.0, False, False)
    charging = max(0.0, power or 0.0)
    reserve = charging if soc < control.start_soc_pct else 0.0
    at_floor = soc <= stop_soc_pct
    keep = 0.0 if at_floor else control.battery_allowance_w
    start = control.battery_allowance_w if soc >= control.start_soc_pct else 0.0
    breached = at_floor and power is not None and power < -control.margin_w
    return BatteryBudget(soc, stop_soc_pct, reserve, keep, start, at_floor, breached)
