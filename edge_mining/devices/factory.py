"""Build the site's drivers from its configuration.

Real drivers are imported lazily, only for the kinds the configuration names, so a site that
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
rate-limit times belong to a remote API that counts real seconds.
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
from edge_mining.devices.base import EnergySource, ForecastSource, MinerDriver

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


def needs_plant(site: SiteConfig) -> bool:
    return isinstance(site.energy_source, SimulatedSourceConfig) or any(
        m.driver == "simulated" for m in site.miners
    )


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
    match source.type:
        case "simulated":
            from edge_mining.sim.devices import SimulatedEnergySource

            if plant is None:
                raise ValueError("a simulated energy source needs the shared plant")
            return SimulatedEnergySource(plant, clock)
        case "voltronic":
            cls = _load(
                "edge_mining.devices.voltronic.source:VoltronicSource", "energy_source.type"
            )
            return _construct(cls, "energy_source", source, clock=clock)
        case "solaredge":
            cls = _load(
                "edge_mining.devices.solaredge.source:SolarEdgeSource", "energy_source.type"
            )
            return _construct(cls, "energy_source", source, clock=clock)
        case "homeassistant":
            cls = _load(
                "edge_mining.devices.homeassistant.source:HomeAssistantEnergySource",
                "energy_source.type",
            )
            return _construct(cls, "energy_source", source, site.homeassistant, clock=clock)
        case "mqtt":
            cls = _load("edge_mining.devices.mqtt.source:MqttEnergySource", "energy_source.type")
            return _construct(cls, "energy_source", source, site.mqtt, clock=clock)
    raise ConfigError([f"energy_source.type: unknown type {source.type!r}"])  # pragma: no cover


def build_miners(
    site: SiteConfig, *, clock: Clock, plant: Any | None = None
) -> dict[str, MinerDriver]:
    miners: dict[str, MinerDriver] = {}
    problems: list[str] = []
    for index, config in enumerate(site.miners):
        where = f"miners.{index}.driver"
        try:
            match config.driver:
                case "simulated":
                    from edge_mining.sim.devices import SimulatedMiner

                    if plant is None:
                        raise ValueError("simulated miners need the shared plant")
                    miners[config.name] = SimulatedMiner(config, plant, clock)
                case "braiins" | "pyasic":
                    cls = _load("edge_mining.devices.braiins.driver:BraiinsMiner", where)
                    miners[config.name] = _construct(cls, f"miners.{index}", config, clock=clock)
                case "smartplug":
                    cls = _load("edge_mining.devices.smartplug.driver:SmartPlugMiner", where)
                    miners[config.name] = _construct(
                        cls, f"miners.{index}", config, site, clock=clock
                    )
                case "avalon" | "bitaxe" | "luxos" | "antminer" | "whatsminer":
                    from edge_mining.devices.miner_families import family

                    cls = _load(family(config.driver).driver_class, where)
                    miners[config.name] = _construct(cls, f"miners.{index}", config, clock=clock)
        except ConfigError as error:
            problems.extend(error.problems)
    if problems:
        raise ConfigError(sorted(set(problems)))
    return miners


def build_forecast(site: SiteConfig) -> ForecastSource | None:
    forecast = site.forecast
    match forecast.type:
        case "none":
            return None
        case "forecast_solar":
            cls = _load(
                "edge_mining.devices.forecast_solar.source:ForecastSolarSource", "forecast.type"
            )
            return _construct(cls, "forecast", forecast)
        case "homeassistant":
            cls = _load(
                "edge_mining.devices.homeassistant.forecast:HomeAssistantForecastSource",
                "forecast.type",
            )
            return _construct(cls, "forecast", forecast, site.homeassistant)
    raise ConfigError([f"forecast.type: unknown type {forecast.type!r}"])  # pragma: no cover


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
        forecast = build_forecast(site)
    except ConfigError as error:
        problems.extend(error.problems)
    if problems or energy is None:
        raise ConfigError(problems)
    return SiteDevices(energy=energy, miners=miners, forecast=forecast, plant=plant)
