"""``edge-mining demo --config FILE``: a site file's shape, simulated, with nothing real in it.

A demo never touches real hardware or the network. From the user's site it keeps what shapes
the decisions (the miners' names, power ranges, efficiency and priority; the control and
planner settings; the prices; the plant's size where the file says it: PV from the forecast's
planes, the battery and inverter from the planner section, off-grid from ``control.site``) and
replaces everything that would reach outside: every miner becomes a simulated one, the energy
source a simulated plant, the forecast the simulated plant's own (with a day-ahead error, so
that the planner plans as it would on the site), and MQTT, Home Assistant, heating sensors and
the hashprice endpoint are left out. The result is built field by field from an allow-list,
so a new device field added to the configuration later cannot slip through.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from edge_mining.config import (
    EconomicsConfig,
    ForecastConfig,
    MinerConfig,
    MqttConfig,
    PlannerConfig,
    PlantConfig,
    SimulatedSourceConfig,
    SiteConfig,
)
from edge_mining.service.banner import planner_text

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


def _battery_from_planner(planner: PlannerConfig) -> dict[str, float]:
    """The plant's battery and inverter as the site's planner section describes them."""
    if planner.battery_kwh is None:
        return {}
    changes = {
        "battery_kwh": planner.battery_kwh,
        "battery_max_charge_w": planner.battery_max_charge_w,
        "battery_max_discharge_w": planner.battery_max_discharge_w,
        "battery_efficiency": planner.battery_efficiency,
        "battery_min_soc_pct": planner.battery_min_soc_pct,
        "battery_max_soc_pct": planner.battery_max_soc_pct,
    }
    if planner.inverter_max_w is not None:
        changes["inverter_max_w"] = planner.inverter_max_w
    if planner.export_limit_w is not None:
        changes["export_limit_w"] = planner.export_limit_w
    return changes


def simulated_plant(site: SiteConfig) -> tuple[PlantConfig, list[str]]:
    source = site.energy_source
    if isinstance(source, SimulatedSourceConfig):
        return source.plant, []
    changes: dict[str, float | bool] = {}
    notes = []
    forecast = site.forecast
    if forecast.type == "forecast_solar" and forecast.planes:
        pv_kwp = min(1000.0, sum(plane.kwp for plane in forecast.planes))
        changes["pv_kwp"] = pv_kwp
        if forecast.latitude is not None:
            changes["latitude"] = forecast.latitude
        notes.append(f"PV {pv_kwp:g} kWp from the forecast's planes")
    else:
        notes.append(f"PV {DEFAULT_PLANT.pv_kwp:g} kWp assumed (the site file does not say)")
    battery = _battery_from_planner(site.planner)
    changes.update(battery)
    if site.control.site == "off_grid":
        changes["grid_connected"] = False
        notes.append("off-grid (control.site)")
    if battery:
        notes.append(f"battery {battery['battery_kwh']:g} kWh from the planner section")
        notes.append(f"house {DEFAULT_PLANT.house_load_kwh_per_year:g} kWh/year assumed")
    else:
        notes.append(
            f"battery {DEFAULT_PLANT.battery_kwh:g} kWh and house "
            f"{DEFAULT_PLANT.house_load_kwh_per_year:g} kWh/year assumed"
        )
    # The planner section passed the same checks the plant's fields have.
    return PlantConfig.model_validate({**DEFAULT_PLANT.model_dump(), **changes}), notes


def simulated_shape(site: SiteConfig, state_dir: Path) -> SimulatedShape:
    """``site`` with every real device and network service replaced or left out."""
    plant, notes = simulated_plant(site)
    if not isinstance(site.energy_source, SimulatedSourceConfig):
        notes.insert(0, f"{site.energy_source.type} energy source simulated")
    real = [m.name for m in site.miners if m.driver != "simulated"]
    if real:
        notes.append(f"miners {', '.join(real)} simulated (no device is contacted)")
    if site.forecast.type not in ("none", "simulated"):
        notes.append(f"{site.forecast.type} forecast simulated (with a day-ahead error)")
    planner = planner_text(site)
    if planner.startswith("planner off") and site.planner.enabled:
        # The demo plans with an assumed battery and a simulated forecast; the site would not.
        notes.append(f"the site itself: {planner}")
    left_out = []
    if site.mqtt.host:
        left_out.append("MQTT broker (use --mqtt)")
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
        # The planner's own battery settings were given to the plant above; its other
        # settings (interval, horizon, the house reserve's margins) are the site's.
        planner=site.planner,
        # Always a forecast: the demo plans like a site with one (the banner says so for a
        # site without). Its error is the site's simulated one, or a real forecast's.
        forecast=ForecastConfig(
            type="simulated",
            error_sigma=site.forecast.error_sigma,
        ),
        mqtt=MqttConfig(enabled=False),
        economics=economics,
        state_dir=state_dir,
        log_level=site.log_level,
    )
    return SimulatedShape(simulated, tuple(notes))
