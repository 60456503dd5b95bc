"""Solar forecast from the Forecast.Solar or Solcast integrations' sensors in Home Assistant
(``forecast.type: homeassistant``): tomorrow's and today's remaining energy, plus Solcast's
hourly detail when present.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping

from edge_mining.clock import Clock, WallClock
from edge_mining.config import ForecastConfig, HomeAssistantConfig
from edge_mining.devices.base import DeviceError
from edge_mining.devices.failures import FailureReporter
from edge_mining.devices.homeassistant.client import (
    ENERGY_UNITS,
    EntityReader,
    EntityState,
    HomeAssistantClient,
)
from edge_mining.devices.payload import iso_epoch
from edge_mining.model import Forecast

log = logging.getLogger("edge_mining.devices.homeassistant")  # the package's, as before


def solcast_hourly(state: EntityState, now: float) -> list[tuple[float, float]]:
    """Solcast's ``detailedHourly`` attribute as (hour start, W), from the current hour on."""
    detail = state.attributes.get("detailedHourly", state.attributes.get("detailed_hourly"))
    hours: list[tuple[float, float]] = []
    if not isinstance(detail, list):
        return hours
    for item in detail:
        if not isinstance(item, Mapping):
            continue
        start = iso_epoch(item.get("period_start"))
        kw = item.get("pv_estimate")
        if start is None or not isinstance(kw, int | float) or start + 3600 <= now:
            continue
        hours.append((start, float(kw) * 1000.0))
    return hours


class HomeAssistantForecastSource:
    """ForecastSource from the Forecast.Solar or Solcast integrations' energy sensors.

    ``tomorrow_entity`` (e.g. ``sensor.energy_production_tomorrow`` or
    ``sensor.solcast_pv_forecast_forecast_tomorrow``) is required,
    ``today_remaining_entity`` (``sensor.energy_production_today_remaining``,
    ``sensor.solcast_pv_forecast_forecast_remaining_today``) optional. Both integrations
    report kWh; a sensor without a unit is taken as kWh.
    """

    def __init__(
        self,
        config: ForecastConfig,
        ha: HomeAssistantConfig,
        *,
        client: HomeAssistantClient | None = None,
        clock: Clock | None = None,
    ) -> None:
        if not config.tomorrow_entity:
            raise ValueError("a homeassistant forecast needs tomorrow_entity")
        self.name = "homeassistant forecast"
        self._tomorrow = config.tomorrow_entity
        self._today = config.today_remaining_entity
        self._clock = clock or WallClock()
        # A client passed in is shared (and closed by its owner); our own we close.
        self._owns_client = client is None
        self.client = client or HomeAssistantClient(ha)
        self.failures = FailureReporter("Home Assistant forecast", log)
        self._reader = EntityReader(self.client, self.failures)

    def _energy(self, entity_id: str, state: EntityState | DeviceError) -> float | None:
        try:
            if isinstance(state, DeviceError):
                raise state
            value = state.converted({None: 1000.0, **ENERGY_UNITS}, "energy")
        except DeviceError as error:
            self._reader.failed(entity_id, error)
            return None
        self._reader.succeeded(entity_id)
        return value

    async def read(self) -> Forecast:
        now = self._clock.now()
        wanted = ([self._today] if self._today else []) + [self._tomorrow]
        states = await self._reader.states(wanted)
        tomorrow = self._energy(self._tomorrow, states[self._tomorrow])
        today = self._energy(self._today, states[self._today]) if self._today else None
        if tomorrow is None and today is None:
            raise next(r for r in states.values() if isinstance(r, DeviceError))
        merged: dict[float, float] = {}
        for result in states.values():  # today's sensor first, tomorrow's continues it
            if isinstance(result, EntityState):
                for start, watts in solcast_hourly(result, now):
                    merged.setdefault(start, watts)
        return Forecast(
            timestamp=now,
            today_remaining_wh=today,
            tomorrow_wh=tomorrow,
            next_hours_w=tuple(sorted(merged.items())),
        )

    async def close(self) -> None:
        if self._owns_client:
            await self.client.close()
