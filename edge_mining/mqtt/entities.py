"""The catalogue of Home Assistant entities we expose: what each one is, not how it is sent.

One ``EntitySpec`` per entity. Its ``key`` is three things at once: the field in the device's
JSON state document, the component id in the device discovery payload, and (for command
entities) the last segment before ``/set`` in the command topic.

Sensor metadata (device_class / state_class / unit) follow Home Assistant's tables in
``homeassistant/components/sensor/const.py`` (DEVICE_CLASS_UNITS, DEVICE_CLASS_STATE_CLASSES);
``tests/test_mqtt_discovery.py`` checks every combination against an encoding of those tables.
"""

from __future__ import annotations

from dataclasses import dataclass

from edge_mining.config import ControlConfig, MinerConfig, SiteConfig
from edge_mining.model import MinerState, MinerStatus, Mode, PowerLevel

SENSOR = "sensor"
SWITCH = "switch"
NUMBER = "number"
SELECT = "select"

MEASUREMENT = "measurement"
TOTAL = "total"
TOTAL_INCREASING = "total_increasing"

DIAGNOSTIC = "diagnostic"
CONFIG = "config"

# How a miner is steered: by the controller, or held by a user's command until released.
MINER_CONTROL_OPTIONS = ("auto", "manual")
MINER_STATUS_OPTIONS = tuple(status.value for status in MinerStatus)
MODE_OPTIONS = tuple(mode.value for mode in Mode)


@dataclass(frozen=True, slots=True)
class EntitySpec:
    key: str
    platform: str
    name: str
    device_class: str | None = None
    state_class: str | None = None
    unit: str | None = None
    entity_category: str | None = None
    icon: str | None = None
    precision: int | None = None
    # Enum sensors and selects.
    options: tuple[str, ...] | None = None
    # Numbers.
    minimum: float | None = None
    maximum: float | None = None
    step: float | None = None
    # Telemetry: also unavailable when the device's own data is stale or it is unreachable.
    telemetry: bool = False
    # A field of the state document whose value (a mapping) becomes the entity's attributes.
    attributes: str | None = None

    @property
    def commandable(self) -> bool:
        return self.platform in (SWITCH, NUMBER, SELECT)


def _power(key: str, name: str, *, icon: str | None = None) -> EntitySpec:
    return EntitySpec(
        key, SENSOR, name, "power", MEASUREMENT, "W", precision=0, icon=icon, telemetry=True
    )


def _energy(key: str, name: str, *, telemetry: bool = False, icon: str | None = None) -> EntitySpec:
    return EntitySpec(
        key,
        SENSOR,
        name,
        "energy",
        TOTAL_INCREASING,
        "kWh",
        precision=2,
        icon=icon,
        telemetry=telemetry,
    )


def energy_entities(site: SiteConfig) -> tuple[EntitySpec, ...]:
    """The energy source: inverter / meter flows, and energy counters."""
    source = site.energy_source
    dual_pv = bool(getattr(source, "dual_mppt", False))
    entities = [_power("pv_power", "PV power", icon="mdi:solar-power")]
    if dual_pv:
        entities.append(_power("pv2_power", "PV2 power", icon="mdi:solar-power"))
    entities += [
        _power("load_power", "Load power", icon="mdi:home-lightning-bolt"),
        EntitySpec(
            "battery_soc",
            SENSOR,
            "Battery",
            "battery",
            MEASUREMENT,
            "%",
            precision=0,
            telemetry=True,
        ),
        EntitySpec(
            "battery_voltage",
            SENSOR,
            "Battery voltage",
            "voltage",
            MEASUREMENT,
            "V",
            precision=1,
            telemetry=True,
        ),
        _power("battery_power", "Battery power", icon="mdi:battery-charging"),
        _power("grid_power", "Grid power", icon="mdi:transmission-tower"),
        EntitySpec(
            "grid_voltage",
            SENSOR,
            "Grid voltage",
            "voltage",
            MEASUREMENT,
            "V",
            precision=1,
            telemetry=True,
        ),
        EntitySpec(
            "grid_frequency",
            SENSOR,
            "Grid frequency",
            "frequency",
            MEASUREMENT,
            "Hz",
            precision=2,
            telemetry=True,
        ),
        EntitySpec(
            "inverter_mode", SENSOR, "Inverter mode", icon="mdi:solar-power-variant", telemetry=True
        ),
        EntitySpec(
            "warnings",
            SENSOR,
            "Warnings",
            entity_category=DIAGNOSTIC,
            icon="mdi:alert-outline",
            telemetry=True,
        ),
        EntitySpec(
            "heatsink_temperature",
            SENSOR,
            "Heatsink temperature",
            "temperature",
            MEASUREMENT,
            "°C",
            DIAGNOSTIC,
            precision=0,
            telemetry=True,
        ),
        EntitySpec(
            "reading_age",
            SENSOR,
            "Reading age",
            "duration",
            MEASUREMENT,
            "s",
            DIAGNOSTIC,
            precision=0,
        ),
        _energy("pv_energy", "PV energy", icon="mdi:solar-power"),
        _energy("load_energy", "Load energy"),
        _energy("battery_charge_energy", "Battery charge energy"),
        _energy("battery_discharge_energy", "Battery discharge energy"),
        _energy("grid_import_energy", "Grid import energy"),
        _energy("grid_export_energy", "Grid export energy"),
    ]
    return tuple(entities)


def power_target_range(
    miner: MinerConfig, target_min_w: float | None, target_max_w: float | None
) -> tuple[float, float]:
    """The settable power-target range: the miner's own constraints inside the configured limits.

    The configured limits always win, so a miner that reports a wider range than the site allows
    can still not be driven outside the site's limits.
    """
    low = miner.min_power_w if target_min_w is None else max(miner.min_power_w, target_min_w)
    high = miner.max_power_w if target_max_w is None else min(miner.max_power_w, target_max_w)
    if low > high:  # the miner's range and the configured one do not overlap: trust the config
        low, high = miner.min_power_w, miner.max_power_w
    return float(low), float(high)


POWER_TARGET_STEP_W = 1.0


def miner_levels(miner: MinerConfig, state: MinerState | None) -> tuple[PowerLevel, ...]:
    """A level miner's levels: the configured ones, else those it reports (empty: none)."""
    if not miner.power_target:
        return ()
    return miner.power_levels() or (state.levels if state else ())


def miner_entities(
    miner: MinerConfig,
    target_min_w: float | None = None,
    target_max_w: float | None = None,
    levels: tuple[str, ...] = (),
) -> tuple[EntitySpec, ...]:
    """A miner's entities; a miner with power ``levels`` gets a select of them instead of a
    power-target number."""
    entities = [
        EntitySpec("mining", SWITCH, "Mining", icon="mdi:pickaxe"),
        EntitySpec(
            "control", SELECT, "Control", options=MINER_CONTROL_OPTIONS, icon="mdi:account-hard-hat"
        ),
    ]
    if miner.power_target and levels:
        entities.append(
            EntitySpec("level", SELECT, "Power level", options=levels, icon="mdi:speedometer")
        )
    elif miner.power_target:
        low, high = power_target_range(miner, target_min_w, target_max_w)
        entities.append(
            EntitySpec(
                "power_target",
                NUMBER,
                "Power target",
                "power",
                unit="W",
                minimum=low,
                maximum=high,
                step=POWER_TARGET_STEP_W,
                icon="mdi:speedometer",
            )
        )
    entities += [
        EntitySpec(
            "status",
            SENSOR,
            "State",
            "enum",
            options=MINER_STATUS_OPTIONS,
            icon="mdi:state-machine",
        ),
        EntitySpec(
            "hashrate",
            SENSOR,
            "Hashrate",
            None,
            MEASUREMENT,
            "TH/s",
            precision=2,
            icon="mdi:speedometer",
            telemetry=True,
        ),
        _power("power", "Power"),
        EntitySpec(
            "efficiency",
            SENSOR,
            "Efficiency",
            None,
            MEASUREMENT,
            "J/TH",
            precision=1,
            icon="mdi:leaf",
            telemetry=True,
        ),
        EntitySpec(
            "temperature",
            SENSOR,
            "Temperature",
            "temperature",
            MEASUREMENT,
            "°C",
            precision=0,
            telemetry=True,
        ),
        EntitySpec(
            "fan_speed",
            SENSOR,
            "Fan speed",
            None,
            MEASUREMENT,
            "rpm",
            precision=0,
            icon="mdi:fan",
            telemetry=True,
        ),
        _energy("energy", "Energy consumed", icon="mdi:lightning-bolt"),
        EntitySpec(
            "reason",
            SENSOR,
            "Controller reason",
            entity_category=DIAGNOSTIC,
            icon="mdi:comment-text-outline",
        ),
        EntitySpec(
            "errors",
            SENSOR,
            "Errors",
            entity_category=DIAGNOSTIC,
            icon="mdi:alert-outline",
            telemetry=True,
        ),
    ]
    return tuple(entities)


@dataclass(frozen=True, slots=True)
class ControlNumber:
    """A ControlConfig field exposed as a number: its range is also what a command may set."""

    field: str
    name: str
    unit: str
    device_class: str | None
    minimum: float
    maximum: float
    step: float


CONTROL_NUMBERS: tuple[ControlNumber, ...] = (
    ControlNumber("start_soc_pct", "Start SoC", "%", None, 0, 100, 1),
    ControlNumber("stop_soc_pct", "Stop SoC", "%", None, 0, 100, 1),
    ControlNumber("start_surplus_w", "Start surplus", "W", "power", 0, 20000, 10),
    ControlNumber("stop_deficit_w", "Stop deficit", "W", "power", 0, 20000, 10),
    ControlNumber("battery_allowance_w", "Battery allowance", "W", "power", 0, 20000, 10),
    ControlNumber("margin_w", "Power margin", "W", "power", 0, 5000, 10),
    ControlNumber("start_delay_s", "Start delay", "s", "duration", 0, 3600, 5),
    ControlNumber("stop_delay_s", "Stop delay", "s", "duration", 0, 3600, 5),
    ControlNumber("min_on_s", "Minimum run time", "s", "duration", 0, 7200, 10),
    ControlNumber("min_off_s", "Minimum off time", "s", "duration", 0, 7200, 10),
)
CONTROL_FIELDS = {number.field: number for number in CONTROL_NUMBERS}
assert set(CONTROL_FIELDS) <= set(ControlConfig.model_fields)


def controller_entities(site: SiteConfig) -> tuple[EntitySpec, ...]:
    currency = site.economics.currency
    entities = [
        EntitySpec("mode", SELECT, "Mode", options=MODE_OPTIONS, icon="mdi:robot"),
        EntitySpec("decision", SENSOR, "Decision", icon="mdi:comment-text-outline"),
        EntitySpec(
            "planned_mining_power",
            SENSOR,
            "Planned mining power",
            "power",
            MEASUREMENT,
            "W",
            precision=0,
            icon="mdi:chart-timeline-variant",
            attributes="plan",
        ),
        EntitySpec(
            "surplus_power",
            SENSOR,
            "Surplus power",
            "power",
            MEASUREMENT,
            "W",
            precision=0,
            icon="mdi:solar-power-variant",
        ),
        EntitySpec(
            "available_power",
            SENSOR,
            "Power available for mining",
            "power",
            MEASUREMENT,
            "W",
            precision=0,
        ),
        EntitySpec(
            "effective_stop_soc",
            SENSOR,
            "Effective stop SoC",
            None,
            MEASUREMENT,
            "%",
            precision=0,
            icon="mdi:battery-arrow-down",
        ),
        _energy("mined_energy_today", "Mining energy today", icon="mdi:pickaxe"),
        _energy("mined_energy_total", "Mining energy total", icon="mdi:pickaxe"),
        EntitySpec(
            "earnings",
            SENSOR,
            "Estimated earnings",
            "monetary",
            TOTAL,
            currency,
            precision=2,
            icon="mdi:bitcoin",
        ),
        _energy("heat_delivered", "Heat delivered", icon="mdi:radiator"),
    ]
    for number in CONTROL_NUMBERS:
        entities.append(
            EntitySpec(
                number.field,
                NUMBER,
                number.name,
                number.device_class,
                unit=number.unit,
                entity_category=CONFIG,
                minimum=number.minimum,
                maximum=number.maximum,
                step=number.step,
            )
        )
    return tuple(entities)
