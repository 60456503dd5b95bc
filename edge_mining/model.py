"""Value types that flow between the rooms.

Units are SI everywhere in the core: W, Wh, %, °C, s, TH/s. Conversion from a device's own
units happens once, in its driver.

Sign conventions (the same everywhere):
- ``battery_power_w`` > 0 means the battery is charging, < 0 discharging.
- ``grid_power_w`` > 0 means importing from the grid, < 0 exporting to it.
"""

from __future__ import annotations

import math
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
class PowerLevel:
    """One of the discrete power settings a miner offers (a work mode, profile or preset).

    ``name`` is what the firmware calls it ("eco", "super", "415MHz"); ``power_w`` and
    ``hashrate_ths`` are what the miner draws and hashes at that setting, fully ramped.
    """

    name: str
    power_w: float
    hashrate_ths: float

    @property
    def efficiency_j_per_th(self) -> float | None:
        return self.power_w / self.hashrate_ths if self.hashrate_ths > 0 else None


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
    # A miner whose power is one of a few settings: those settings, lowest power first, and
    # the one it runs at (by name). Empty for a miner with a continuous power target.
    levels: tuple[PowerLevel, ...] = ()
    level: str | None = None
    # The miner's own efficiency curve, when its firmware publishes one (BraiinsOS 1.11).
    curve: HashrateCurve | None = None

    @property
    def efficiency_j_per_th(self) -> float | None:
        if self.hashrate_ths <= 0:
            return None
        return self.power_w / self.hashrate_ths


@dataclass(frozen=True, slots=True)
class HashrateCurve:
    """A miner's hashrate (TH/s) as a function of its power (W): piecewise linear.

    ``points`` are ``(power_w, hashrate_ths)`` breakpoints, power strictly ascending and
    hashrate not decreasing: the miner's operating range runs from the first point (its
    minimum) to the last (its maximum). A miner with a few discrete power levels is a curve
    with a point per level; an on/off miner is a curve of one point. Between points the
    hashrate is linear; below the first point it is the first point's hashrate scaled down
    through the origin (running at the minimum for part of the time); above the last point
    it stays at the last point's hashrate (more power buys nothing).

    Tuned-down ASICs are more efficient (J/TH falls with power), so real curves are concave:
    the marginal hashrate per watt falls as power rises. The planner and the oracle, which
    are linear programs, use the upper concave hull through the origin (:meth:`hull`).
    ``source`` says where the curve came from (``nominal``, ``config``, ``braiins profile``,
    ``catalogue: ...``).
    """

    points: tuple[tuple[float, float], ...]
    source: str = "nominal"

    def __post_init__(self) -> None:
        if not self.points:
            raise ValueError("a hashrate curve needs at least one point")
        previous_w, previous_ths = 0.0, 0.0
        for power, ths in self.points:
            if not (math.isfinite(power) and math.isfinite(ths)):
                raise ValueError("hashrate curve points must be finite numbers")
            if power <= previous_w:
                raise ValueError("hashrate curve powers must be above 0 and strictly ascending")
            if ths < previous_ths or ths < 0:
                raise ValueError("hashrate curve hashrates must be >= 0 and not decreasing")
            previous_w, previous_ths = power, ths
        if self.points[-1][1] <= 0:
            raise ValueError("a hashrate curve needs a hashrate above 0")

    @classmethod
    def linear(
        cls, min_power_w: float, max_power_w: float, nominal_power_w: float, nominal_ths: float
    ) -> HashrateCurve:
        """Constant J/TH (the nominal efficiency) over ``[min_power_w, max_power_w]``."""
        rate = nominal_ths / nominal_power_w
        low = max(min_power_w, 1e-3)
        if max_power_w <= low:
            return cls(((max_power_w, max_power_w * rate),))
        return cls(((low, low * rate), (max_power_w, max_power_w * rate)))

    @property
    def min_power_w(self) -> float:
        return self.points[0][0]

    @property
    def max_power_w(self) -> float:
        return self.points[-1][0]

    @property
    def max_hashrate_ths(self) -> float:
        return self.points[-1][1]

    def hashrate_at(self, power_w: float) -> float:
        """TH/s at ``power_w`` (see the class doc for outside the points)."""
        if power_w <= 0:
            return 0.0
        first_w, first_ths = self.points[0]
        if power_w <= first_w:
            return first_ths * power_w / first_w
        for (w0, h0), (w1, h1) in zip(self.points, self.points[1:], strict=False):
            if power_w <= w1:
                return h0 + (h1 - h0) * (power_w - w0) / (w1 - w0)
        return self.points[-1][1]

    def ths_per_w_at(self, power_w: float) -> float:
        """Average hashrate per watt at ``power_w`` (the inverse of J/TH)."""
        return self.hashrate_at(power_w) / power_w if power_w > 0 else self.start_ths_per_w

    def marginal_ths_per_w(self, power_w: float) -> float:
        """Hashrate one more watt buys at ``power_w`` (the slope to its right); 0 at the top."""
        first_w, first_ths = self.points[0]
        if power_w < first_w:
            return first_ths / first_w
        for (w0, h0), (w1, h1) in zip(self.points, self.points[1:], strict=False):
            if power_w < w1:
                return (h1 - h0) / (w1 - w0)
        return 0.0

    @property
    def start_ths_per_w(self) -> float:
        """Hashrate per watt at the minimum power: what the first watts of a start buy."""
        first_w, first_ths = self.points[0]
        return first_ths / first_w

    def hull(self) -> tuple[tuple[float, float], ...]:
        """The upper concave hull of the origin and the points, from ``(0, 0)`` on.

        A linear program with power in ``[0, max]`` and hashrate the concave piecewise-linear
        function through these points never earns less than the real curve allows (running
        at the minimum for part of a step is on the first segment)."""
        hull: list[tuple[float, float]] = [(0.0, 0.0)]
        for point in self.points:
            while len(hull) >= 2:
                (x0, y0), (x1, y1) = hull[-2], hull[-1]
                # Drop the middle point when it lies on or below the chord to the new point.
                if (y1 - y0) * (point[0] - x0) <= (point[1] - y0) * (x1 - x0):
                    hull.pop()
                else:
                    break
            hull.append(point)
        # Past the best hashrate, more power buys nothing: end the hull there.
        best = max(range(len(hull)), key=lambda i: (hull[i][1], -i))
        return tuple(hull[: best + 1])

    def segments(self) -> tuple[tuple[float, float], ...]:
        """The hull as ``(width_w, ths_per_w)`` segments from 0 W, slopes falling."""
        hull = self.hull()
        return tuple(
            (w1 - w0, (h1 - h0) / (w1 - w0))
            for (w0, h0), (w1, h1) in zip(hull, hull[1:], strict=False)
        )


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
