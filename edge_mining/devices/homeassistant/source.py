"""Energy source from any Home Assistant entities (``energy_source.type: homeassistant``).

PV, load, battery SoC, battery power and grid power from any entities (so any inverter Home
Assistant knows can drive Edge Mining), converted from the entity's ``unit_of_measurement`` and
sign-flipped where configured. A failing entity is reported once per kind of failure and the
reading goes on without it; only when nothing can be read does ``read()`` raise, and the
caller falls back to defaults.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping

from edge_mining.clock import Clock, WallClock
from edge_mining.config import EntityQuantity, HomeAssistantConfig, HomeAssistantSourceConfig
from edge_mining.devices.base import DeviceError
from edge_mining.devices.failures import FailureReporter
from edge_mining.devices.homeassistant.client import (
    PERCENT_UNITS,
    POWER_UNITS,
    EntityReader,
    HomeAssistantClient,
)
from edge_mining.model import EnergyReading

log = logging.getLogger("edge_mining.devices.homeassistant")  # the package's, as before

_QUANTITIES: tuple[tuple[str, Mapping[str | None, float], str], ...] = (
    ("pv_power", POWER_UNITS, "power"),
    ("load_power", POWER_UNITS, "power"),
    ("battery_soc", PERCENT_UNITS, "percentage"),
    ("battery_power", POWER_UNITS, "power"),
    ("grid_power", POWER_UNITS, "power"),
)
_READING_FIELD = {
    "pv_power": "pv_power_w",
    "load_power": "load_power_w",
    "battery_soc": "battery_soc_pct",
    "battery_power": "battery_power_w",
    "grid_power": "grid_power_w",
}


class HomeAssistantEnergySource:
    """EnergySource from Home Assistant entities (``energy_source.type: homeassistant``).

    Signs follow our conventions (battery > 0 charging, grid > 0 importing); an entity with
    the opposite convention is configured with ``invert: true``.
    """

    def __init__(
        self,
        config: HomeAssistantSourceConfig,
        ha: HomeAssistantConfig,
        *,
        client: HomeAssistantClient | None = None,
        clock: Clock | None = None,
    ) -> None:
        self.name = "homeassistant"
        self._quantities: dict[str, tuple[EntityQuantity, Mapping[str | None, float], str]] = {}
        for name, units, what in _QUANTITIES:
            quantity = getattr(config, name)
            if quantity is not None:
                self._quantities[name] = (quantity, units, what)
        if not self._quantities:
            raise ValueError("the homeassistant energy source names no entity")
        self._clock = clock or WallClock()
        # A client passed in is shared (and closed by its owner); our own we close.
        self._owns_client = client is None
        self.client = client or HomeAssistantClient(ha)
        self.failures = FailureReporter("Home Assistant energy source", log)
        self._reader = EntityReader(self.client, self.failures)

    async def read(self) -> EnergyReading:
        entity_ids = [q.entity_id for q, _, _ in self._quantities.values()]
        states = await self._reader.states(sorted(set(entity_ids)))
        values: dict[str, float] = {}
        first_error: DeviceError | None = None
        for name, (quantity, units, what) in self._quantities.items():
            state = states[quantity.entity_id]
            try:
                if isinstance(state, DeviceError):
                    raise state
                value = state.converted(units, what)
            except DeviceError as error:
                self._reader.failed(quantity.entity_id, error)
                first_error = first_error or error
                continue
            self._reader.succeeded(quantity.entity_id)
            values[_READING_FIELD[name]] = -value if quantity.invert else value
        if not values:
            assert first_error is not None
            raise first_error
        return EnergyReading(timestamp=self._clock.now(), **values)

    async def close(self) -> None:
        if self._owns_client:
            await self.client.close()
