"""Build the site's drivers from its configuration, through the device registry.

The configuration's ``energy_source.type``, ``miners[].driver`` and ``forecast.type`` pick a
line of :mod:`edge_mining.devices.registry`, which names the driver class and its arguments.
Real drivers are imported lazily, only for the devices the configuration names, so a site that
uses a serial inverter never imports the Modbus stack. A driver that this build does not have
(or that fails to import) is reported as a configuration problem, one line naming the field,
never as a traceback.

Simulated devices share one :class:`~edge_mining.sim.plant.Plant`: the miners' draw must land
on the plant the energy source reads. The caller (daemon, demo, tests) may pass its own plant
to watch or drive it; otherwise one is built from the simulated source's ``plant`` settings (or
the defaults when only the miners are simulated).

Energy sources and miners get the caller's clock: their timestamps, message ages and the
miners' STARTING/STOPPING confirmation timeouts must run in the daemon's time (the demo's
ScaledClock, a test's ManualClock). Forecast sources keep the wall clock: their cache and
rate-limit times belong to a remote API that counts real seconds; the simulated forecast, which
forecasts the shared plant, runs in the plant's time like the other simulated devices.
"""

from __future__ import annotations

import asyncio
import importlib
import logging
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from edge_mining.clock import Clock
from edge_mining.config import (
    ConfigError,
    PlantConfig,
    SimulatedSourceConfig,
    SiteConfig,
)
from edge_mining.devices import registry
from edge_mining.devices.base import EnergySource, ForecastSource, MinerDriver
from edge_mining.devices.registry import Device, Kind

log = logging.getLogger(__name__)


def _load(target: str, field_path: str) -> Any:
    """Import ``module:Class``; a missing driver becomes a ConfigError naming the field."""
    module_name, _, attribute = target.partition(":")
    try:
        module = importlib.import_module(module_name)
        return getattr(module, attribute)
    except (ImportError, AttributeError) as error:
        raise ConfigError(
            [f"{field_path}: this driver is not available in this build ({module_name}: {error})"]
        ) from None


def _construct(cls: Any, field_path: str, *args: Any, **kwargs: Any) -> Any:
    """Instantiate a driver; a constructor's complaint becomes a ConfigError naming the field."""
    try:
        return cls(*args, **kwargs)
    except (ValueError, TypeError, OSError) as error:
        raise ConfigError([f"{field_path}: cannot set up this driver: {error}"]) from None


def _entry(kind: Kind, name: str, field_path: str) -> Device:
    try:
        return registry.device(kind, name)
    except KeyError:  # pragma: no cover - the configuration model admits registered names only
        raise ConfigError([f"{field_path}: unknown type {name!r}"]) from None


def _build(
    entry: Device,
    section: Any,
    site: SiteConfig,
    where: str,
    *,
    clock: Clock | None,
    plant: Any | None,
) -> Any:
    """The registry entry's driver, given the positional arguments its line names."""
    if "plant" in entry.arguments and plant is None:
        raise ValueError(f"the simulated {entry.kind.value} needs the shared plant")
    values = {
        "config": section,
        "site": site,
        "homeassistant": site.homeassistant,
        "mqtt": site.mqtt,
        "plant": plant,
    }
    cls = _load(entry.driver, f"{where}.{_FIELD[entry.kind]}")
    keywords = {} if clock is None else {"clock": clock}
    return _construct(cls, where, *(values[name] for name in entry.arguments), **keywords)


# The configuration field that names a device of each kind.
_FIELD = {Kind.ENERGY_SOURCE: "type", Kind.MINER: "driver", Kind.FORECAST: "type"}


def _site_entries(site: SiteConfig) -> list[Device]:
    entries = [registry.device(Kind.ENERGY_SOURCE, site.energy_source.type)]
    entries.extend(registry.device(Kind.MINER, miner.driver) for miner in site.miners)
    if site.forecast.type != "none":
        entries.append(registry.device(Kind.FORECAST, site.forecast.type))
    return entries


def needs_plant(site: SiteConfig) -> bool:
    return any("plant" in entry.arguments for entry in _site_entries(site))


def plant_config(site: SiteConfig) -> PlantConfig:
    if isinstance(site.energy_source, SimulatedSourceConfig):
        return site.energy_source.plant
    return PlantConfig()


def build_plant(site: SiteConfig, start_time: float) -> Any:
    """The Plant the site's simulated devices share (``edge_mining.sim.plant.Plant``)."""
    from edge_mining.sim.plant import Plant

    return Plant(plant_config(site), start_time=start_time)


def build_energy_source(
    site: SiteConfig, *, clock: Clock, plant: Any | None = None
) -> EnergySource:
    source = site.energy_source
    entry = _entry(Kind.ENERGY_SOURCE, source.type, "energy_source.type")
    energy: EnergySource = _build(entry, source, site, "energy_source", clock=clock, plant=plant)
    return energy


def build_miners(
    site: SiteConfig, *, clock: Clock, plant: Any | None = None
) -> dict[str, MinerDriver]:
    miners: dict[str, MinerDriver] = {}
    problems: list[str] = []
    for index, config in enumerate(site.miners):
        try:
            entry = _entry(Kind.MINER, config.driver, f"miners.{index}.driver")
            miners[config.name] = _build(
                entry, config, site, f"miners.{index}", clock=clock, plant=plant
            )
        except ConfigError as error:
            problems.extend(error.problems)
    if problems:
        raise ConfigError(sorted(set(problems)))
    return miners


def build_forecast(
    site: SiteConfig, *, clock: Clock | None = None, plant: Any | None = None
) -> ForecastSource | None:
    forecast = site.forecast
    if forecast.type == "none":
        return None
    entry = _entry(Kind.FORECAST, forecast.type, "forecast.type")
    # Forecast sources keep the wall clock (see the module's docstring), but for the simulated
    # one, which forecasts the plant in the plant's time.
    simulated = "plant" in entry.arguments
    source: ForecastSource = _build(
        entry, forecast, site, "forecast", clock=clock if simulated else None, plant=plant
    )
    return source


@dataclass
class SiteDevices:
    """Every driver of a site, and the plant behind the simulated ones (if any)."""

    energy: EnergySource
    miners: Mapping[str, MinerDriver]
    forecast: ForecastSource | None = None
    plant: Any | None = None

    async def close(self, timeout_s: float = 5.0) -> None:
        """Close every driver, each bounded by ``timeout_s``; failures are logged."""
        devices: list[Any] = [self.energy, *self.miners.values()]
        if self.forecast is not None:
            devices.append(self.forecast)
        results = await asyncio.gather(
            *(asyncio.wait_for(d.close(), timeout_s) for d in devices), return_exceptions=True
        )
        for device, result in zip(devices, results, strict=True):
            if isinstance(result, BaseException):
                log.warning("closing %s failed: %s", getattr(device, "name", device), result)


def build_devices(site: SiteConfig, *, clock: Clock, plant: Any | None = None) -> SiteDevices:
    """All the site's drivers. Raises ConfigError (one line per problem) for missing drivers."""
    if plant is None and needs_plant(site):
        plant = build_plant(site, clock.now())
    problems: list[str] = []
    energy: EnergySource | None = None
    miners: dict[str, MinerDriver] = {}
    forecast: ForecastSource | None = None
    try:
        energy = build_energy_source(site, clock=clock, plant=plant)
    except ConfigError as error:
        problems.extend(error.problems)
    try:
        miners = build_miners(site, clock=clock, plant=plant)
    except ConfigError as error:
        problems.extend(error.problems)
    try:
        forecast = build_forecast(site, clock=clock, plant=plant)
    except ConfigError as error:
        problems.extend(error.problems)
    if problems or energy is None:
        raise ConfigError(problems)
    return SiteDevices(energy=energy, miners=miners, forecast=forecast, plant=plant)
