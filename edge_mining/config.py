"""One pydantic model of the whole site, and its loaders.

The same field names serve the standalone YAML file and the add-on's ``/data/options.json``.
Secrets are ``SecretStr`` (never printed, never in ``repr``) and can be overridden from the
environment:

- ``EDGE_MINING_MQTT_PASSWORD``
- ``EDGE_MINING_HOMEASSISTANT_TOKEN``
- ``EDGE_MINING_FORECAST_API_KEY``
- ``EDGE_MINING_WEB_TOKEN``
- ``EDGE_MINING_MINER_<NAME>_PASSWORD`` (NAME upper-cased, other characters as ``_``)
"""

from __future__ import annotations

import ipaddress
import math
import os
import re
from collections.abc import Mapping
from pathlib import Path
from typing import Annotated, Any, Literal

from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    SecretStr,
    ValidationError,
    ValidationInfo,
    field_validator,
    model_validator,
)

from edge_mining.config_file import ConfigFileError, parse_json, parse_yaml, read_config_text
from edge_mining.model import HashrateCurve, Mode, PowerLevel

ADDON_OPTIONS_PATH = Path("/data/options.json")


class ConfigError(Exception):
    """A configuration that cannot run. ``problems`` holds one line per problem."""

    def __init__(self, problems: list[str]) -> None:
        super().__init__("\n".join(problems))
        self.problems = problems


class SettingProblems(ValueError):
    """Several problems found by one cross-field check: reported one line each."""

    def __init__(self, problems: list[str]) -> None:
        super().__init__("; ".join(problems))
        self.problems = problems


class _Section(BaseModel):
    # Unknown keys are errors: a typo in a threshold must not be silently ignored. Infinite
    # and NaN numbers are errors too: `stale_after_s: .inf` would switch a safety off.
    model_config = ConfigDict(extra="forbid", frozen=True, allow_inf_nan=False)

    @field_validator("*", mode="after")
    @classmethod
    def _no_negative_zero(cls, value: Any) -> Any:
        # `-0.0` is zero; it must not show as "-0 %" in Home Assistant.
        if isinstance(value, float) and value == 0.0 and math.copysign(1.0, value) < 0:
            return 0.0
        return value


# --------------------------------------------------------------------------- energy sources


class PlantConfig(_Section):
    """The simulated plant (demo, tests, backtest defaults)."""

    pv_kwp: float = Field(5.0, gt=0, le=1000)
    pv_cloud_noise: float = Field(0.0, ge=0, le=1)
    pv_series_csv: Path | None = None
    house_load_kwh_per_year: float = Field(4000.0, ge=0)
    load_series_csv: Path | None = None
    battery_kwh: float = Field(10.0, ge=0)
    battery_max_charge_w: float = Field(5000.0, ge=0)
    battery_max_discharge_w: float = Field(5000.0, ge=0)
    battery_efficiency: float = Field(0.95, gt=0, le=1)
    battery_min_soc_pct: float = Field(5.0, ge=0, le=100)
    battery_max_soc_pct: float = Field(100.0, ge=0, le=100)
    battery_initial_soc_pct: float = Field(50.0, ge=0, le=100)
    inverter_max_w: float = Field(8000.0, gt=0)
    grid_connected: bool = True
    export_limit_w: float | None = Field(None, ge=0)
    latitude: float = Field(45.0, ge=-90, le=90)
    seed: int = 1

    @model_validator(mode="after")
    def _soc_bounds(self) -> PlantConfig:
        if self.battery_min_soc_pct >= self.battery_max_soc_pct:
            raise ValueError("battery_min_soc_pct must be below battery_max_soc_pct")
        return self


class SimulatedSourceConfig(_Section):
    type: Literal["simulated"] = "simulated"
    plant: PlantConfig = PlantConfig()


class VoltronicSourceConfig(_Section):
    type: Literal["voltronic"]
    device: str = Field(min_length=1)
    transport: Literal["serial", "hidraw"] = "serial"
    baudrate: int = Field(2400, gt=0)
    poll_interval_s: float = Field(5.0, gt=0)
    timeout_s: float = Field(2.0, gt=0)
    retries: int = Field(2, ge=0, le=10)
    dual_mppt: bool = False


class SolarEdgeSourceConfig(_Section):
    type: Literal["solaredge"]
    host: str = Field(min_length=1)
    port: int = Field(1502, ge=1, le=65535)
    unit: int = Field(1, ge=0, le=247)
    poll_interval_s: float = Field(5.0, gt=0)
    timeout_s: float = Field(3.0, gt=0)


class EntityQuantity(_Section):
    """One quantity read from a Home Assistant entity."""

    entity_id: str = Field(pattern=r"^[a-z_]+\.[a-z0-9_]+$")
    invert: bool = False  # flip the sign to match our conventions


class HomeAssistantSourceConfig(_Section):
    type: Literal["homeassistant"]
    pv_power: EntityQuantity | None = None
    load_power: EntityQuantity | None = None
    battery_soc: EntityQuantity | None = None
    battery_power: EntityQuantity | None = None
    grid_power: EntityQuantity | None = None
    poll_interval_s: float = Field(10.0, gt=0)


class TopicQuantity(_Section):
    """One quantity read from an MQTT topic, optionally from a JSON path in its payload."""

    topic: str = Field(min_length=1)
    json_path: str | None = None
    scale: float = 1.0
    invert: bool = False


class MqttSourceConfig(_Section):
    type: Literal["mqtt"]
    pv_power: TopicQuantity | None = None
    load_power: TopicQuantity | None = None
    battery_soc: TopicQuantity | None = None
    battery_power: TopicQuantity | None = None
    grid_power: TopicQuantity | None = None
    # A value older than this is dropped (the device stopped publishing).
    max_age_s: float = Field(120.0, gt=0)


EnergySourceConfig = Annotated[
    SimulatedSourceConfig
    | VoltronicSourceConfig
    | SolarEdgeSourceConfig
    | HomeAssistantSourceConfig
    | MqttSourceConfig,
    Field(discriminator="type"),
]


# --------------------------------------------------------------------------------- miners


class CurvePoint(_Section):
    """One point of a miner's efficiency curve: its hashrate at a power."""

    power_w: float = Field(gt=0, allow_inf_nan=False)
    hashrate_ths: float = Field(ge=0, allow_inf_nan=False)


class LevelConfig(_Section):
    """One of the discrete power levels of a miner (a work mode, profile or preset)."""

    name: str = Field(min_length=1, max_length=40)
    power_w: float = Field(gt=0, allow_inf_nan=False)
    hashrate_ths: float = Field(gt=0, allow_inf_nan=False)


class MinerConfig(_Section):
    name: str = Field(pattern=r"^[A-Za-z0-9][A-Za-z0-9_-]{0,39}$")
    driver: Literal[
        "simulated",
        "braiins",
        "pyasic",
        "smartplug",
        "avalon",
        "bitaxe",
        "luxos",
        "antminer",
        "whatsminer",
    ] = "simulated"
    host: str | None = None
    port: int | None = Field(None, ge=1, le=65535)
    username: str = "root"
    password: SecretStr = SecretStr("")
    # Lower number runs first. None: ordered by efficiency (J/TH), best first.
    priority: int | None = Field(None, ge=0, le=1000)
    min_power_w: float = Field(ge=0)
    max_power_w: float = Field(gt=0)
    nominal_hashrate_ths: float = Field(gt=0)
    nominal_power_w: float = Field(gt=0)
    # False: on/off only (no power target), e.g. a miner behind a smart plug.
    power_target: bool = True
    # Hashrate against power (tuned-down ASICs are more efficient), ascending power. None:
    # the miner's own profile when its firmware publishes one (BraiinsOS), else the nominal
    # J/TH at every power. An empty list is the same as none (the add-on's form).
    efficiency_curve: list[CurvePoint] | None = Field(None, max_length=64)
    # A miner whose power is one of a few levels (work modes, profiles, presets), ascending
    # power. None: the levels its driver reports (Avalon, Bitaxe, LuxOS, stock Antminer,
    # Whatsminer), if any. An empty list is the same as none.
    levels: list[LevelConfig] | None = Field(None, max_length=32)
    # After a level change the miner keeps its level at least this long (anti-flapping; a
    # level change may cost a ramp or a restart).
    level_dwell_s: float = Field(300.0, ge=0, allow_inf_nan=False)
    # BraiinsOS (public API 1.7+): seconds a resume takes to full power and a pause to idle
    # ("quick ramping", for curtailment), set on the miner at detection. None: the miner's.
    quick_ramping_s: int | None = Field(None, ge=1, le=3600)
    # BraiinsOS: below the power-target floor, run fewer hashboards (one board of three has a
    # third of the floor) instead of holding the floor.
    hashboard_shedding: bool = False
    # Smart plug (driver: smartplug): a Home Assistant switch or an MQTT command topic.
    switch_entity: str | None = None
    power_entity: str | None = None
    command_topic: str | None = None
    power_topic: str | None = None
    # MQTT plug details: JSON path of the power in its payload (Tasmota: "ENERGY.Power"),
    # the topic reporting the relay state, and the on/off payloads (Tasmota/Shelly style).
    power_json_path: str | None = None
    state_topic: str | None = None
    payload_on: str = "ON"
    payload_off: str = "OFF"
    # The plug's own limits, stricter than the controller's, to protect the PSU: a miner cut
    # hard must cool down before it is powered again; once on it stays on a minimum time.
    plug_min_on_s: float = Field(900.0, ge=0)
    plug_cooldown_s: float = Field(600.0, ge=0)
    # Boot to hashing after power-on; longer without power draw is an error.
    plug_warmup_s: float = Field(300.0, gt=0)
    # Draw above which the miner counts as mining (W); None: half the nominal power.
    plug_running_threshold_w: float | None = Field(None, gt=0)

    @model_validator(mode="after")
    def _check(self) -> MinerConfig:
        if self.min_power_w > self.max_power_w:
            raise ValueError(
                f"min_power_w ({self.min_power_w:g}) is above max_power_w ({self.max_power_w:g})"
            )
        if self.driver not in ("simulated", "smartplug") and not self.host:
            raise ValueError(f"host is required for driver {self.driver}")
        if self.driver == "smartplug" and not (self.switch_entity or self.command_topic):
            raise ValueError("a smartplug miner needs switch_entity or command_topic")
        if self.efficiency_curve:
            try:
                self.configured_curve()
            except ValueError as error:
                raise ValueError(f"efficiency_curve: {error}") from None
        if self.levels:
            names = [level.name for level in self.levels]
            if len(set(names)) != len(names):
                raise ValueError("levels: two levels have the same name")
            if not self.power_target:
                raise ValueError("levels: a miner with levels takes a power target")
            try:
                self.levels_curve()
            except ValueError as error:
                raise ValueError(f"levels: {error}") from None
        return self

    @property
    def efficiency_j_per_th(self) -> float:
        return self.nominal_power_w / self.nominal_hashrate_ths

    def configured_curve(self) -> HashrateCurve | None:
        """The efficiency curve given in the configuration, if any."""
        if not self.efficiency_curve:
            return None
        points = tuple((p.power_w, p.hashrate_ths) for p in self.efficiency_curve)
        return HashrateCurve(points, source="config")

    def power_levels(self) -> tuple[PowerLevel, ...]:
        """The configured levels, lowest power first (empty: none configured)."""
        return tuple(
            sorted(
                (PowerLevel(lv.name, lv.power_w, lv.hashrate_ths) for lv in self.levels or ()),
                key=lambda lv: lv.power_w,
            )
        )

    def levels_curve(self) -> HashrateCurve | None:
        """The curve through the configured levels (a point per level), if any."""
        levels = self.power_levels()
        if not levels:
            return None
        return HashrateCurve(tuple((lv.power_w, lv.hashrate_ths) for lv in levels), "levels")

    def nominal_curve(self) -> HashrateCurve:
        """The nominal J/TH over the miner's power range (on/off miners: one point)."""
        if not self.power_target:
            rate = self.nominal_hashrate_ths / self.nominal_power_w
            return HashrateCurve(((self.nominal_power_w, self.nominal_power_w * rate),))
        return HashrateCurve.linear(
            self.min_power_w, self.max_power_w, self.nominal_power_w, self.nominal_hashrate_ths
        )

    def curve(self) -> HashrateCurve:
        """The curve the controller starts from: the configured one, else the one through the
        configured levels, else the nominal one."""
        return self.configured_curve() or self.levels_curve() or self.nominal_curve()


# ------------------------------------------------------------------------------- control


class ControlConfig(_Section):
    mode: Mode = Mode.AUTO
    tick_s: float = Field(5.0, gt=0, le=300)
    # Data older than this is stale; an hour at most, so no value can switch the safety off.
    stale_after_s: float = Field(60.0, gt=0, le=3600)
    # What miners do when energy data is stale or missing.
    safe_action: Literal["min_power", "pause"] = "pause"
    # What miners do when the daemon stops.
    shutdown_action: Literal["pause", "min_power", "leave"] = "pause"
    # Site kind: grid export is the surplus signal, or the battery is (hybrid/off-grid).
    # auto: grid-tied when the energy source reports grid power.
    site: Literal["auto", "grid_tied", "off_grid"] = "auto"

    # Enable/disable conditions and their delays.
    start_surplus_w: float = Field(300.0, ge=0)  # extra beyond a miner's min power to start it
    stop_deficit_w: float = Field(200.0, ge=0)  # shortfall below a miner's min power to stop it
    start_delay_s: float = Field(120.0, ge=0)
    stop_delay_s: float = Field(60.0, ge=0)
    min_on_s: float = Field(600.0, ge=0)
    min_off_s: float = Field(300.0, ge=0)
    max_starts_per_day: int = Field(4, ge=1, le=1000)

    # Battery protection.
    start_soc_pct: float = Field(80.0, ge=0, le=100)
    stop_soc_pct: float = Field(40.0, ge=0, le=100)  # used when no forecast is known
    stop_soc_sunny_pct: float = Field(30.0, ge=0, le=100)
    stop_soc_cloudy_pct: float = Field(60.0, ge=0, le=100)
    forecast_sunny_kwh: float = Field(20.0, ge=0)
    forecast_cloudy_kwh: float = Field(5.0, ge=0)
    # Battery discharge the miners may cause while above the stop SoC (W).
    battery_allowance_w: float = Field(0.0, ge=0)
    # SoC at which the battery is treated as full (surplus hidden, probe upward).
    full_soc_pct: float = Field(97.0, ge=0, le=100)

    # Power following.
    power_change_interval_s: float = Field(30.0, ge=0)
    power_step_w: float = Field(500.0, gt=0)
    probe_step_w: float = Field(200.0, gt=0)
    # Headroom kept unused to absorb noise (W).
    margin_w: float = Field(100.0, ge=0)
    # Power-target changes smaller than this are not sent (W).
    power_deadband_w: float = Field(50.0, ge=0)
    # A command the miner's status has not followed is sent again after this long (s).
    command_retry_s: float = Field(30.0, gt=0)

    @model_validator(mode="after")
    def _check(self) -> ControlConfig:
        problems = []
        if self.stop_soc_pct >= self.start_soc_pct:
            problems.append(
                f"stop_soc_pct ({self.stop_soc_pct:g}) must be below start_soc_pct "
                f"({self.start_soc_pct:g})"
            )
        if max(self.stop_soc_sunny_pct, self.stop_soc_cloudy_pct) >= self.start_soc_pct:
            problems.append(
                "stop_soc_sunny_pct and stop_soc_cloudy_pct must be below start_soc_pct"
            )
        if self.stop_soc_sunny_pct > self.stop_soc_cloudy_pct:
            problems.append("stop_soc_sunny_pct must not be above stop_soc_cloudy_pct")
        if self.forecast_sunny_kwh <= self.forecast_cloudy_kwh:
            problems.append("forecast_sunny_kwh must be above forecast_cloudy_kwh")
        if problems:
            raise SettingProblems(problems)
        return self


class PlannerConfig(_Section):
    """The forecast-aware planner (needs a battery, an hourly PV forecast and a day of load
    history; without them, or when its solver fails, the controller follows its rules)."""

    enabled: bool = True
    interval_s: float = Field(900.0, ge=60, le=3600, allow_inf_nan=False)
    horizon_h: float = Field(36.0, ge=12, le=48, allow_inf_nan=False)
    # The battery as the planner sees it. battery_kwh empty: the simulated plant's, else no
    # plan (a real inverter does not report its capacity).
    battery_kwh: float | None = Field(None, ge=0, allow_inf_nan=False)
    battery_max_charge_w: float = Field(5000.0, gt=0, allow_inf_nan=False)
    battery_max_discharge_w: float = Field(5000.0, gt=0, allow_inf_nan=False)
    battery_efficiency: float = Field(0.95, gt=0, le=1)
    battery_min_soc_pct: float = Field(5.0, ge=0, le=100)
    battery_max_soc_pct: float = Field(100.0, ge=0, le=100)
    inverter_max_w: float | None = Field(None, gt=0, allow_inf_nan=False)
    export_limit_w: float | None = Field(None, ge=0, allow_inf_nan=False)
    # The house reserve assumes PV delivers only this share of the forecast ...
    pv_confidence: float = Field(0.5, gt=0, le=1)
    # ... and the house uses this much more than its usual profile.
    load_margin_pct: float = Field(20.0, ge=0, le=200)
    load_history_days: int = Field(7, ge=1, le=60)

    @model_validator(mode="after")
    def _soc_bounds(self) -> PlannerConfig:
        if self.battery_min_soc_pct >= self.battery_max_soc_pct:
            raise ValueError("battery_min_soc_pct must be below battery_max_soc_pct")
        return self

    def for_plant(self, plant: PlantConfig) -> PlannerConfig:
        """This configuration with the battery, inverter and export limit of ``plant`` where
        it leaves them open (the simulated plant, the backtest)."""
        if self.battery_kwh is not None:
            return self
        return self.model_copy(
            update={
                "battery_kwh": plant.battery_kwh,
                "battery_max_charge_w": plant.battery_max_charge_w or 1.0,
                "battery_max_discharge_w": plant.battery_max_discharge_w or 1.0,
                "battery_efficiency": plant.battery_efficiency,
                "battery_min_soc_pct": plant.battery_min_soc_pct,
                "battery_max_soc_pct": plant.battery_max_soc_pct,
                "inverter_max_w": self.inverter_max_w or plant.inverter_max_w,
                "export_limit_w": (
                    self.export_limit_w if self.export_limit_w is not None else plant.export_limit_w
                ),
            }
        )


# ---------------------------------------------------------------------------------- mqtt


class MqttConfig(_Section):
    enabled: bool = True
    host: str | None = None  # None: from the Supervisor inside the add-on, else disabled
    port: int = Field(1883, ge=1, le=65535)
    username: str | None = None
    password: SecretStr | None = None
    protocol: Literal["3.1.1", "5"] = "3.1.1"
    tls: bool = False
    ca_file: Path | None = None
    client_cert_file: Path | None = None
    client_key_file: Path | None = None
    client_id: str | None = None
    discovery_prefix: str = Field("homeassistant", pattern=r"^[^#+\s]+$")
    base_topic: str = Field("edge_mining", pattern=r"^[^#+\s]+$")
    keepalive_s: int = Field(60, ge=5, le=3600)


# ------------------------------------------------------------------------------ forecast


class ForecastPlane(_Section):
    declination_deg: float = Field(30.0, ge=0, le=90)
    # Home Assistant's convention: 0 = north, 90 = east, 180 = south, 270 = west.
    azimuth_deg: float = Field(180.0, ge=0, le=360)
    kwp: float = Field(gt=0)


class ForecastConfig(_Section):
    # simulated: the simulated plant's own PV with a day-ahead forecast's error (sim/forecast.py),
    # for the demo and examples/simulated.yaml only (it needs the simulated energy source).
    type: Literal["none", "forecast_solar", "homeassistant", "simulated"] = "none"
    latitude: float | None = Field(None, ge=-90, le=90)
    longitude: float | None = Field(None, ge=-180, le=180)
    planes: list[ForecastPlane] = []
    api_key: SecretStr | None = None
    tomorrow_entity: str | None = None
    today_remaining_entity: str | None = None
    refresh_s: float = Field(900.0, ge=900)
    # Random delay added to each refresh so installations do not all call on the quarter hour.
    refresh_jitter_s: float = Field(300.0, ge=0, le=900)
    # Planes one Forecast.Solar call may combine: 1 without a key; set per the key's plan.
    max_planes_per_request: int = Field(1, ge=1, le=4)
    timeout_s: float = Field(10.0, gt=0, le=120)
    # simulated: the day-ahead error, the sigma of a log-normal factor on each day's energy and
    # on each hour's share of it (0: the plant's PV exactly; 0.3: a real forecast's error).
    error_sigma: float = Field(0.3, ge=0, le=1)

    @model_validator(mode="after")
    def _check(self) -> ForecastConfig:
        if self.type == "forecast_solar":
            if self.latitude is None or self.longitude is None:
                raise ValueError("forecast_solar needs latitude and longitude")
            if not self.planes:
                raise ValueError("forecast_solar needs at least one plane")
        if self.type == "homeassistant" and not self.tomorrow_entity:
            raise ValueError("a homeassistant forecast needs tomorrow_entity")
        return self


# ------------------------------------------------------------------------------- heating


class HeatingZone(_Section):
    name: str = Field(pattern=r"^[A-Za-z0-9][A-Za-z0-9_-]{0,39}$")
    temperature_entity: str | None = None
    temperature_topic: str | None = None
    # Dot path into a JSON payload (zigbee2mqtt: "temperature"); None: plain number.
    temperature_json_path: str | None = None
    setpoint_c: float = Field(20.0, ge=5, le=30)
    hysteresis_c: float = Field(0.5, gt=0, le=5)
    miners: list[str] = Field(min_length=1)
    # Budget for running beyond the surplus when heat is wanted.
    battery_floor_pct: float = Field(50.0, ge=0, le=100)
    grid_allowance_w: float = Field(0.0, ge=0)
    max_import_price_per_kwh: float | None = Field(None, ge=0)
    # True: the zone's miners run only while the room wants heat (a heater-miner that follows
    # its thermostat), never on surplus alone. False: they also mine on surplus when warm.
    heat_only: bool = False


class HeatingConfig(_Section):
    enabled: bool = False
    zones: list[HeatingZone] = []
    # Value of a kWh of heat: the cost of the heat it replaces.
    heat_value_per_kwh: float = Field(0.0, ge=0)


# ----------------------------------------------------------------------------- economics


class HashpriceSourceConfig(_Section):
    """A public JSON endpoint to refresh the hashprice from (optional)."""

    url: str = Field(pattern=r"^https?://\S+$")
    # Dot path to the number in the answer, e.g. "hash_price" or "data.0.hashprice".
    json_path: str = Field(min_length=1)
    # Multiplier to currency per TH/s per day: 0.001 for a price per PH/s, an exchange rate.
    scale: float = Field(1.0, gt=0)
    refresh_s: float = Field(3600.0, ge=300)
    timeout_s: float = Field(10.0, gt=0, le=120)
    # Values outside this band are rejected (a changed API, a unit mix-up).
    max_per_th_day: float = Field(5.0, gt=0)


class EconomicsConfig(_Section):
    currency: str = Field("EUR", min_length=3, max_length=3)
    export_price_per_kwh: float = Field(0.08, ge=0)
    import_price_per_kwh: float = Field(0.30, ge=0)
    # Hashprice in currency per TH/s per day.
    hashprice_per_th_day: float = Field(0.05, ge=0)
    # The price of one bitcoin in ``currency``: shows the estimated earnings in BTC as well.
    btc_price: float = Field(100_000.0, gt=0)
    # Mining must beat the export price by this much per kWh to use exportable energy.
    margin_per_kwh: float = Field(0.0, ge=0)
    gate_enabled: bool = False
    # Refresh hashprice_per_th_day from a public source; the configured value is the fallback.
    hashprice_source: HashpriceSourceConfig | None = None


# --------------------------------------------------------------------------- homeassistant


class HomeAssistantConfig(_Section):
    url: str | None = None  # None inside the add-on: the Supervisor proxy
    token: SecretStr | None = None
    timeout_s: float = Field(10.0, gt=0)


# ----------------------------------------------------------------------------------- web

LOOPBACK_HOSTS = frozenset({"localhost", "127.0.0.1", "::1"})


def is_loopback_host(host: str) -> bool:
    """True for a listening address only this machine can reach."""
    if host in LOOPBACK_HOSTS:
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


class WebConfig(_Section):
    """The web panel the daemon serves (inside the add-on: through Home Assistant's ingress)."""

    enabled: bool = False
    host: str = Field("127.0.0.1", min_length=1)
    port: int = Field(8099, ge=1, le=65535)
    # Required when the panel listens beyond loopback without allowed_clients (a secret).
    token: SecretStr | None = None
    # Addresses or networks that may connect (e.g. 172.30.32.2, the Supervisor's ingress
    # proxy, or 192.168.1.0/24); empty: any client that passes the token rule.
    allowed_clients: list[str] = []

    @field_validator("allowed_clients")
    @classmethod
    def _networks(cls, clients: list[str]) -> list[str]:
        for client in clients:
            try:
                ipaddress.ip_network(client, strict=False)
            except ValueError:
                raise ValueError(f"{client!r} is not an IP address or network") from None
        return clients

    @model_validator(mode="after")
    def _check(self) -> WebConfig:
        if self.token is not None and len(self.token.get_secret_value()) < 12:
            raise ValueError("token must be at least 12 characters")
        if (
            self.enabled
            and not is_loopback_host(self.host)
            and self.token is None
            and not self.allowed_clients
        ):
            raise ValueError(
                f"the panel listens beyond loopback ({self.host}): set token "
                "(or allowed_clients, for a proxy that authenticates users)"
            )
        return self


# ---------------------------------------------------------------------------------- site


class SiteConfig(_Section):
    name: str = Field("Edge Mining", min_length=1)
    # The loaders (YAML, options.json) require it: a site file that names real miners but no
    # source must not run on a simulated one. The default serves tests building sites in code.
    energy_source: EnergySourceConfig = SimulatedSourceConfig()
    miners: list[MinerConfig] = Field(min_length=1)
    control: ControlConfig = ControlConfig()
    planner: PlannerConfig = PlannerConfig()
    mqtt: MqttConfig = MqttConfig()
    forecast: ForecastConfig = ForecastConfig()
    heating: HeatingConfig = HeatingConfig()
    economics: EconomicsConfig = EconomicsConfig()
    homeassistant: HomeAssistantConfig = HomeAssistantConfig()
    web: WebConfig = WebConfig()
    state_dir: Path = Path("./state")
    # How often the counters are saved; Home Assistant sees them as saved (a crash never makes
    # them go back). Lower: less lag; higher: fewer writes (an SD card).
    state_save_interval_s: float = Field(60.0, ge=1, le=3600)
    log_level: Literal["debug", "info", "warning", "error"] = "info"

    @field_validator("miners")
    @classmethod
    def _unique_names(cls, miners: list[MinerConfig]) -> list[MinerConfig]:
        seen: set[str] = set()
        for miner in miners:
            if miner.name in seen:
                raise ValueError(f"miner name {miner.name!r} is used twice")
            seen.add(miner.name)
        return miners

    @field_validator("forecast")
    @classmethod
    def _simulated_forecast_of_a_simulated_plant(
        cls, forecast: ForecastConfig, info: ValidationInfo
    ) -> ForecastConfig:
        source = info.data.get("energy_source")  # absent: it is wrong itself, and said so
        if (
            forecast.type == "simulated"
            and source is not None
            and not isinstance(source, SimulatedSourceConfig)
        ):
            raise ValueError(
                "type simulated forecasts the simulated plant: it needs energy_source type "
                "simulated (a real site: forecast_solar or homeassistant)"
            )
        return forecast

    @model_validator(mode="after")
    def _zones_name_miners(self) -> SiteConfig:
        names = {m.name for m in self.miners}
        for zone in self.heating.zones:
            unknown = [m for m in zone.miners if m not in names]
            if unknown:
                raise ValueError(f"heating zone {zone.name!r} names unknown miners {unknown}")
        return self

    def secret_values(self) -> list[str]:
        """Every non-empty secret of the site (passwords, tokens, keys), for log redaction."""
        secrets = [
            self.mqtt.password,
            self.homeassistant.token,
            self.forecast.api_key,
            *(miner.password for miner in self.miners),
        ]
        return [s.get_secret_value() for s in secrets if s is not None and s.get_secret_value()]

    def miner(self, name: str) -> MinerConfig:
        for miner in self.miners:
            if miner.name == name:
                return miner
        raise KeyError(name)


# -------------------------------------------------------------------------------- loaders


def _env_key(name: str) -> str:
    return re.sub(r"[^A-Z0-9]", "_", name.upper())


def apply_env_secrets(raw: dict[str, Any], environ: Mapping[str, str]) -> dict[str, Any]:
    """Overlay secrets from the environment onto the raw (unvalidated) mapping."""
    data = dict(raw)
    if "EDGE_MINING_MQTT_PASSWORD" in environ:
        data["mqtt"] = {
            **(data.get("mqtt") or {}),
            "password": environ["EDGE_MINING_MQTT_PASSWORD"],
        }
    if "EDGE_MINING_HOMEASSISTANT_TOKEN" in environ:
        data["homeassistant"] = {
            **(data.get("homeassistant") or {}),
            "token": environ["EDGE_MINING_HOMEASSISTANT_TOKEN"],
        }
    if "EDGE_MINING_FORECAST_API_KEY" in environ:
        data["forecast"] = {
            **(data.get("forecast") or {}),
            "api_key": environ["EDGE_MINING_FORECAST_API_KEY"],
        }
    if "EDGE_MINING_WEB_TOKEN" in environ:
        data["web"] = {**(data.get("web") or {}), "token": environ["EDGE_MINING_WEB_TOKEN"]}
    miners = data.get("miners")
    if isinstance(miners, list):
        patched = []
        for miner in miners:
            if isinstance(miner, dict) and isinstance(miner.get("name"), str):
                key = f"EDGE_MINING_MINER_{_env_key(miner['name'])}_PASSWORD"
                if key in environ:
                    miner = {**miner, "password": environ[key]}
            patched.append(miner)
        data["miners"] = patched
    return data


def _location(loc: tuple[int | str, ...]) -> str:
    # Drop pydantic's discriminator tags (e.g. "voltronic") so the path reads like the file.
    parts = [str(p) for p in loc if not (isinstance(p, str) and p.startswith("function-"))]
    return ".".join(parts) or "(top level)"


def describe_validation_error(error: ValidationError, data: Mapping[str, Any]) -> list[str]:
    """One line per problem: the field's path and what is wrong, never the secret's value."""
    lines = []
    for item in error.errors(include_url=False, include_input=False):
        loc = list(item["loc"])
        # Discriminated unions add the tag as a path element: energy_source.voltronic.device.
        if len(loc) >= 2 and loc[0] == "energy_source" and isinstance(loc[1], str):
            source = data.get("energy_source")
            if isinstance(source, Mapping) and source.get("type") == loc[1]:
                del loc[1]
        msg = item["msg"].removeprefix("Value error, ")
        cause = item.get("ctx", {}).get("error")
        if isinstance(cause, SettingProblems):
            lines.extend(f"{_location(tuple(loc))}: {problem}" for problem in cause.problems)
            continue
        if item["type"] == "union_tag_invalid":
            ctx = item.get("ctx", {})
            msg = f"unknown type {ctx.get('tag')!r} (expected one of {ctx.get('expected_tags')})"
            loc.append("type")
        lines.append(f"{_location(tuple(loc))}: {msg}")
    return lines


MISSING_ENERGY_SOURCE = (
    "energy_source: required: where the readings come from (type voltronic, solaredge, "
    "homeassistant or mqtt; simulated only to try without hardware)"
)


def parse_config(raw: Any, environ: Mapping[str, str] | None = None) -> SiteConfig:
    """Validate a raw mapping (from YAML or options.json) into a SiteConfig."""
    if not isinstance(raw, dict):
        raise ConfigError(["(top level): the configuration must be a mapping of settings"])
    data = apply_env_secrets(raw, os.environ if environ is None else environ)
    try:
        site = SiteConfig.model_validate(data)
    except ValidationError as error:
        problems = describe_validation_error(error, data)
    else:
        problems = []
    if data.get("energy_source") is None:
        # Never a silent simulated source for a file that names real miners.
        problems.insert(0, MISSING_ENERGY_SOURCE)
    if problems:
        raise ConfigError(problems)
    return site


def load_config(path: Path, environ: Mapping[str, str] | None = None) -> SiteConfig:
    """Load a YAML (or JSON: YAML is a superset) configuration file. Anything that is not a
    small UTF-8 YAML file of unique keys is a one-line ConfigError (see config_file)."""
    try:
        raw = parse_yaml(read_config_text(path))
    except ConfigFileError as error:
        raise ConfigError([f"{path}: {error}"]) from None
    return parse_config(raw, environ)


def read_addon_options(path: Path = ADDON_OPTIONS_PATH) -> Any:
    """The add-on's options.json, decoded; unset ``state_dir`` defaults to its folder (the
    add-on's persistent ``/data``). Unreadable or invalid JSON is a one-line ConfigError."""
    try:
        raw = parse_json(read_config_text(path))
    except ConfigFileError as error:
        raise ConfigError([f"{path}: {error}"]) from None
    if isinstance(raw, dict) and "state_dir" not in raw:
        raw = {**raw, "state_dir": str(path.parent)}
    return raw


def load_addon_options(
    path: Path = ADDON_OPTIONS_PATH, environ: Mapping[str, str] | None = None
) -> SiteConfig:
    """Load the add-on's options.json; same field names as the YAML file."""
    return parse_config(read_addon_options(path), environ)
