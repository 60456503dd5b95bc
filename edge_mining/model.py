"""Value types that flow between the rooms.

Units are SI everywhere in the core: W, Wh, %, °C, s, TH/s. Conversion from a device's own
units happens once, in its driver.

Sign conventions (the same everywhere):
- ``battery_power_w`` > 0 means the battery is charging, < 0 discharging.
- ``grid_power_w`` > 0 means importing from the grid, < 0 exporting to it.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from enum import StrEnum


class MinerStatus(StrEnum):
    """What a miner is doing, as confirmed by telemetry (or being confirmed)."""

    STARTING = "starting"
    MINING = "mining"
    STOPPING = "stopping"
    PAUSED = "paused"
    UNREACHABLE = "unreachable"
    ERROR = "error"

    @property
    def is_running(self) -> bool:
        """Drawing (or about to draw) mining power."""
        return self in (MinerStatus.STARTING, MinerStatus.MINING)

    @property
    def is_available(self) -> bool:
        """Reachable and not in a fault state: something the controller may command."""
        return self not in (MinerStatus.UNREACHABLE, MinerStatus.ERROR)


class Mode(StrEnum):
    """Controller mode."""

    OFF = "off"  # every miner kept stopped
    MANUAL = "manual"  # only explicit user commands act
    AUTO = "auto"  # the controller decides


class Action(StrEnum):
    START = "start"
    STOP = "stop"
    SET_POWER = "set_power"


@dataclass(frozen=True, slots=True)
class EnergyReading:
    """One reading of the site's energy flows, taken at ``timestamp`` (epoch seconds)."""

    timestamp: float
    pv_power_w: float | None = None
    pv2_power_w: float | None = None
    load_power_w: float | None = None
    load_apparent_va: float | None = None
    battery_soc_pct: float | None = None
    battery_power_w: float | None = None
    battery_voltage_v: float | None = None
    grid_power_w: float | None = None
    grid_voltage_v: float | None = None
    grid_frequency_hz: float | None = None
    inverter_mode: str | None = None
    warnings: tuple[str, ...] = ()
    heatsink_temperature_c: float | None = None
    # True when the source knows PV is being curtailed (battery full, no export possible).
    pv_curtailed: bool | None = None

    @property
    def total_pv_power_w(self) -> float | None:
        if self.pv_power_w is None and self.pv2_power_w is None:
            return None
        return (self.pv_power_w or 0.0) + (self.pv2_power_w or 0.0)


@dataclass(frozen=True, slots=True)
class MinerState:
    """Telemetry of one miner, taken at ``timestamp`` (epoch seconds)."""

    name: str
    timestamp: float
    status: MinerStatus
    hashrate_ths: float = 0.0
    power_w: float = 0.0
    power_target_w: float | None = None
    # The miner's own power-target constraints, when it accepts a target.
    target_min_w: float | None = None
    target_max_w: float | None = None
    temperature_c: float | None = None
    fan_rpm: float | None = None
    errors: tuple[str, ...] = ()
    model: str | None = None
    firmware: str | None = None
    serial: str | None = None

    @property
    def efficiency_j_per_th(self) -> float | None:
        if self.hashrate_ths <= 0:
            return None
        return self.power_w / self.hashrate_ths


@dataclass(frozen=True, slots=True)
class Forecast:
    """Solar production forecast."""

    timestamp: float
    today_remaining_wh: float | None = None
    tomorrow_wh: float | None = None
    # (epoch seconds at the start of the hour, mean W during that hour)
    next_hours_w: tuple[tuple[float, float], ...] = ()


@dataclass(frozen=True, slots=True)
class Snapshot:
    """Everything the controller sees at one tick. Built by the daemon, the demo or the backtest."""

    time: float
    energy: EnergyReading | None
    miners: Mapping[str, MinerState]
    forecast: Forecast | None = None
    # Room temperature per heating zone name, when known.
    room_temperatures_c: Mapping[str, float] = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class Command:
    """One instruction for one miner, with the reason a person can read."""

    miner: str
    action: Action
    reason: str
    power_w: float | None = None

    def __str__(self) -> str:
        target = f" {self.power_w:.0f} W" if self.power_w is not None else ""
        return f"{self.miner}: {self.action.value}{target} ({self.reason})"


@dataclass(frozen=True, slots=True)
class Decision:
    """The controller's output for one tick."""

    time: float
    commands: tuple[Command, ...]
    # Power the controller judged available for mining (W), after reserves.
    available_power_w: float
    # Surplus estimate before reserves (W); None when energy data is stale or missing.
    surplus_w: float | None
    # Effective stop SoC this tick (%), after the forecast adjustment.
    stop_soc_pct: float | None
    reason: str
    # Latest reason per miner, including miners that received no command.
    miner_reasons: Mapping[str, str] = field(default_factory=dict)
