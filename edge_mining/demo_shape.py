"""``edge-mining demo --config FILE``: a site file's shape, simulated, with nothing real in it.

A demo never touches real hardware or the network. From the user's site it keeps what shapes
the decisions (the miners' names, power ranges, efficiency and priority; the control
settings; the prices; the plant's size where the file says it) and replaces everything that
would reach outside: every miner becomes a simulated one, the energy source a simulated plant,
and MQTT, the forecast, Home Assistant, heating sensors and the hashprice endpoint are left
out. The result is built field by field from an allow-list, so a new device field added to the
configuration later cannot slip through.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from edge_mining.config import (
    EconomicsConfig,
    MinerConfig,
    MqttConfig,
    PlantConfig,
    SimulatedSourceConfig,
    SiteConfig,
)

# The built-in demo's plant where the site file does not say: 5 kWp, 10 kWh, a sunny start.
DEFAULT_PLANT = PlantConfig(
    pv_kwp=5.0,
    pv_cloud_noise=0.15,
    battery_kwh=10.0,
    battery_initial_soc_pct=85.0,
    house_load_kwh_per_year=4000.0,
)


@dataclass(frozen=True)
class SimulatedShape:
    site: SiteConfig
    notes: tuple[str, ...]  # what was assumed or left out, one line each


def simulated_miner(miner: MinerConfig) -> MinerConfig:
    """The miner's shape as a simulated miner: no address, no credentials, no plug."""
    return MinerConfig(
        name=miner.name,
        driver="simulated",
        priority=miner.priority,
        min_power_w=miner.min_power_w,
        max_power_w=miner.max_power_w,
        nominal_hashrate_ths=miner.nominal_hashrate_ths,
        nominal_power_w=miner.nominal_power_w,
        power_target=miner.power_target,
        efficiency_curve=miner.efficiency_curve,
        levels=miner.levels,
        level_dwell_s=miner.level_dwell_s,
    )


def simulated_plant(site: SiteConfig) -> tuple[PlantConfig, list[str]]:
    source = site.energy_source
    if isinstance(source, SimulatedSourceConfig):
        return source.plant, []
    changes: dict[str, float] = {}
    notes = []
    forecast = site.forecast
    if forecast.type == "forecast_solar" and forecast.planes:
        changes["pv_kwp"] = min(1000.0, sum(plane.kwp for plane in forecast.planes))
        if forecast.latitude is not None:
            changes["latitude"] = forecast.latitude
        notes.append(f"PV {changes['pv_kwp']:g} kWp from the forecast's planes")
    else:
        notes.append(f"PV {DEFAULT_PLANT.pv_kwp:g} kWp assumed (the site file does not say)")
    notes.append(
        f"battery {DEFAULT_PLANT.battery_kwh:g} kWh and house "
        f"{DEFAULT_PLANT.house_load_kwh_per_year:g} kWh/year assumed"
    )
    return DEFAULT_PLANT.model_copy(update=changes), notes


def simulated_shape(site: SiteConfig, state_dir: Path) -> SimulatedShape:
    """``site`` with every real device and network service replaced or left out."""
    plant, notes = simulated_plant(site)
    if not isinstance(site.energy_source, SimulatedSourceConfig):
        notes.insert(0, f"{site.energy_source.type} energy source simulated")
    real = [m.name for m in site.miners if m.driver != "simulated"]
    if real:
        notes.append(f"miners {', '.join(real)} simulated (no device is contacted)")
    left_out = []
    if site.mqtt.host:
        left_out.append("MQTT broker (use --mqtt)")
    if site.forecast.type != "none":
        left_out.append("forecast")
    if site.heating.enabled:
        left_out.append("heating zones")
    if site.economics.hashprice_source is not None:
        left_out.append("hashprice source")
    if site.homeassistant.url:
        left_out.append("Home Assistant")
    if left_out:
        notes.append(f"left out: {', '.join(left_out)}")
    economics = EconomicsConfig.model_validate(
        {**site.economics.model_dump(), "hashprice_source": None}
    )
    simulated = SiteConfig(
        name=site.name,
        energy_source=SimulatedSourceConfig(plant=plant),
        miners=[simulated_miner(m) for m in site.miners],
        control=site.control,
        mqtt=MqttConfig(enabled=False),
        economics=economics,
        state_dir=state_dir,
        log_level=site.log_level,
    )
    return SimulatedShape(simulated, tuple(notes))
