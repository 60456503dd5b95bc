"""A simulated small power plant: PV, house load, battery, inverter, optional grid, miners.

The plant integrates energy between calls to :meth:`Plant.step`, so the same model serves the
demo (scaled wall time), the tests (manual time) and the backtest (fixed steps). The miners'
real draw is fed back into the load with :meth:`Plant.set_miner_draw`, which is what closes the
loop: what the controller does changes what it sees next.

Modelling choices (each one a simplification, stated so nobody mistakes it for physics):

- **Time of day is UTC**: the plant stands on the prime meridian, so solar noon is 12:00 UTC.
- **PV**: a clear-sky day from solar geometry (declination, hour angle, latitude), a
  Kasten-Young air mass and Meinel's direct-beam attenuation, on a panel tilted 30° towards the
  equator, plus 10 % diffuse light and 14 % system losses, scaled to ``pv_kwp``. Optional cloud
  noise is deterministic for a seed: a smooth random factor between ``1 - pv_cloud_noise`` and
  1. A profile callable or a CSV series replaces the clear-sky model.
- **House load**: a typical European household day (night base, morning and evening peaks),
  about 15 % more in winter, 10 % seeded noise, scaled so a year sums to
  ``house_load_kwh_per_year``.
- **Battery**: ``battery_efficiency`` is the round-trip efficiency, split evenly between charge
  and discharge (sqrt each way). ``battery_power_w`` is measured at the battery's terminals; the
  conversion loss is counted in ``battery_loss_wh``. SoC stays within its bounds.
- **Inverter**: ``inverter_max_w`` caps the AC power the inverter delivers (PV to the loads,
  PV export and battery discharge together). PV charging the battery is DC-coupled and does not
  count against it. Grid import passes through (bypass).
- **Dispatch order**: PV serves the loads, then charges the battery, then is exported (within
  ``export_limit_w``) and the rest is curtailed. A shortfall comes from the battery, then from
  the grid.
- **Off-grid with an empty battery**: the load that cannot be served is counted in
  ``unserved_wh`` (and flagged in the reading's warnings) rather than silently served: a real
  inverter would shut its output down, and a controller that lets this happen must be visible
  in the numbers. The energy balance then reads, every step::

      pv + battery_out + grid_import + unserved
          == house_load + miners + battery_in + grid_export + curtailed

  and the battery's stored energy changes by ``battery_in - battery_out - battery_loss``.
"""

from __future__ import annotations

import math
from bisect import bisect_right
from collections.abc import Callable
from dataclasses import dataclass, replace
from datetime import UTC, datetime
from functools import lru_cache
from pathlib import Path

from edge_mining.config import PlantConfig
from edge_mining.model import EnergyReading
from edge_mining.sim.series import read_power_rows

Profile = Callable[[float], float]

# Physics integrates in steps no longer than this, so profiles are followed closely even when
# the caller steps once every few minutes (SoC limits are exact at any step length). A
# backtest may pass a longer ``max_substep_s`` for speed.
MAX_SUBSTEP_S = 60.0

_PANEL_TILT_DEG = 30.0
_DIFFUSE_FRACTION = 0.10
_SALT_COVER, _SALT_CLOUD, _SALT_LOAD = 1, 2, 3
_SYSTEM_LOSSES = 0.14
_SOLAR_CONSTANT_W_M2 = 1353.0

# Typical household load shape, hours 0..23 (relative; normalised to mean 1 below).
_LOAD_SHAPE = (
    0.55, 0.50, 0.48, 0.47, 0.48, 0.55, 0.80, 1.10, 1.05, 0.90, 0.85, 0.90,
    1.00, 0.95, 0.85, 0.85, 0.95, 1.20, 1.55, 1.70, 1.60, 1.35, 1.00, 0.70,
)  # fmt: skip
_LOAD_SHAPE_MEAN = sum(_LOAD_SHAPE) / len(_LOAD_SHAPE)

# LiFePO4, 16 cells in series: open-circuit voltage per cell against SoC (%).
_LFP_OCV = (
    (0.0, 2.80), (5.0, 3.10), (10.0, 3.20), (20.0, 3.25), (30.0, 3.27), (40.0, 3.28),
    (50.0, 3.29), (60.0, 3.30), (70.0, 3.31), (80.0, 3.32), (90.0, 3.34), (95.0, 3.36),
    (100.0, 3.45),
)  # fmt: skip
_CELLS_IN_SERIES = 16
_PACK_RESISTANCE_OHM = 0.02


@dataclass(frozen=True, slots=True)
class PlantState:
    """The plant at ``time``: instantaneous powers (W) and cumulative energies (Wh).

    ``pv_w`` is what the panels could produce; ``pv_w - curtailed_w`` is what they did.
    """

    time: float
    pv_w: float = 0.0
    house_load_w: float = 0.0
    miners_w: float = 0.0
    battery_soc_pct: float = 0.0
    battery_power_w: float = 0.0  # > 0 charging
    battery_voltage_v: float = 0.0
    grid_w: float = 0.0  # > 0 importing
    curtailed_w: float = 0.0
    unserved_w: float = 0.0
    pv_wh: float = 0.0
    house_load_wh: float = 0.0
    miners_wh: float = 0.0
    battery_in_wh: float = 0.0
    battery_out_wh: float = 0.0
    grid_import_wh: float = 0.0
    grid_export_wh: float = 0.0
    curtailed_wh: float = 0.0
    battery_loss_wh: float = 0.0
    unserved_wh: float = 0.0

    @property
    def balance_error_wh(self) -> float:
        """Sources minus sinks over the whole run; zero up to rounding."""
        sources = self.pv_wh + self.battery_out_wh + self.grid_import_wh + self.unserved_wh
        sinks = (
            self.house_load_wh
            + self.miners_wh
            + self.battery_in_wh
            + self.grid_export_wh
            + self.curtailed_wh
        )
        return sources - sinks


# ----------------------------------------------------------------------------- profiles


@lru_cache(maxsize=1024)
def _day_of_year_for_day(day: int) -> int:
    return datetime.fromtimestamp(day * 86400.0, UTC).timetuple().tm_yday


def _day_of_year(t: float) -> int:
    return _day_of_year_for_day(int(t // 86400.0))


def _hour_of_day(t: float) -> float:
    return (t % 86400.0) / 3600.0


def solar_elevation_sin(t: float, latitude: float) -> float:
    """Sine of the sun's elevation at epoch ``t`` (UTC as solar time)."""
    phi = math.radians(latitude)
    decl = math.radians(23.45) * math.sin(2 * math.pi * (284 + _day_of_year(t)) / 365.0)
    omega = math.radians(15.0 * (_hour_of_day(t) - 12.0))
    return math.sin(phi) * math.sin(decl) + math.cos(phi) * math.cos(decl) * math.cos(omega)


def clear_sky_pv_w(t: float, latitude: float, kwp: float) -> float:
    """PV power of a clear day, W (see the module doc for the model)."""
    sin_elev = solar_elevation_sin(t, latitude)
    if sin_elev <= 0.0:
        return 0.0
    elev_deg = math.degrees(math.asin(sin_elev))
    air_mass = 1.0 / (sin_elev + 0.50572 * (elev_deg + 6.07995) ** -1.6364)
    dni = _SOLAR_CONSTANT_W_M2 * 0.7 ** (air_mass**0.678)
    # A panel tilted towards the equator sees the sun as if it stood at latitude phi - tilt.
    tilt = math.radians(_PANEL_TILT_DEG)
    phi_eff = math.radians(latitude) - math.copysign(tilt, latitude or 1.0)
    decl = math.radians(23.45) * math.sin(2 * math.pi * (284 + _day_of_year(t)) / 365.0)
    omega = math.radians(15.0 * (_hour_of_day(t) - 12.0))
    cos_incidence = math.sin(phi_eff) * math.sin(decl) + math.cos(phi_eff) * math.cos(
        decl
    ) * math.cos(omega)
    poa = dni * max(0.0, cos_incidence) + _DIFFUSE_FRACTION * dni * (1 + math.cos(tilt)) / 2
    return kwp * poa * (1.0 - _SYSTEM_LOSSES)


_MASK64 = (1 << 64) - 1


def _hash01(seed: int, salt: int, i: int) -> float:
    """A uniform number in [0, 1) from three integers (splitmix64 finaliser): deterministic,
    independent of the order of calls, and much cheaper than seeding a Random per knot."""
    x = (seed * 0x9E3779B97F4A7C15 + salt * 0xD1B54A32D192ED03 + i * 0x94D049BB133111EB) & _MASK64
    x ^= x >> 30
    x = (x * 0xBF58476D1CE4E5B9) & _MASK64
    x ^= x >> 27
    x = (x * 0x94D049BB133111EB) & _MASK64
    x ^= x >> 31
    return x / 2.0**64


def _value_noise(t: float, period_s: float, seed: int, salt: int) -> float:
    """Smooth deterministic noise in [0, 1]: random knots every ``period_s``, cosine-blended."""
    k = math.floor(t / period_s)
    frac = t / period_s - k
    w = (1 - math.cos(math.pi * frac)) / 2
    return _hash01(seed, salt, k) * (1 - w) + _hash01(seed, salt, k + 1) * w


def make_pv_profile(config: PlantConfig) -> Profile:
    """PV power (W) against time: clear sky, times a cloud factor when noise is configured."""
    if config.pv_series_csv is not None:
        return load_series_csv(config.pv_series_csv)
    noise = config.pv_cloud_noise

    def pv(t: float) -> float:
        power = clear_sky_pv_w(t, config.latitude, config.pv_kwp)
        if noise > 0 and power > 0:
            # Two scales: passing clouds (10 min) on top of the day's general cover (2 h).
            cover = 0.6 * _value_noise(t, 7200.0, config.seed, _SALT_COVER) + 0.4 * _value_noise(
                t, 600.0, config.seed, _SALT_CLOUD
            )
            power *= 1.0 - noise * cover
        return power

    return pv


def make_load_profile(config: PlantConfig) -> Profile:
    """House load (W) against time, averaging ``house_load_kwh_per_year`` over a year."""
    if config.load_series_csv is not None:
        return load_series_csv(config.load_series_csv)
    mean_w = config.house_load_kwh_per_year * 1000.0 / 8760.0

    def load(t: float) -> float:
        hour = _hour_of_day(t)
        # Linear between hour midpoints, wrapping at midnight.
        pos = hour - 0.5
        i = math.floor(pos)
        frac = pos - i
        shape = _LOAD_SHAPE[i % 24] * (1 - frac) + _LOAD_SHAPE[(i + 1) % 24] * frac
        season = 1.0 + 0.15 * math.cos(2 * math.pi * (_day_of_year(t) - 15) / 365.0)
        jitter = 1.0 + 0.2 * (_value_noise(t, 300.0, config.seed, _SALT_LOAD) - 0.5)
        return mean_w * shape / _LOAD_SHAPE_MEAN * season * jitter

    return load


def load_series_csv(path: Path) -> Profile:
    """A power series from CSV: ``time`` (epoch seconds or ISO 8601, UTC when naive) then a
    power column in W. Linear between samples; outside the series it repeats with a period of
    its span rounded up to whole days, so a one-day profile serves any date."""
    times, values = read_power_rows(path)
    start = times[0]
    period = max(86400.0, math.ceil((times[-1] - start + 1) / 86400.0) * 86400.0)

    def series(t: float) -> float:
        x = start + (t - start) % period
        i = bisect_right(times, x)
        if i == 0:
            return values[0]
        if i >= len(times):
            return values[-1]
        t0, t1 = times[i - 1], times[i]
        return values[i - 1] + (values[i] - values[i - 1]) * (x - t0) / (t1 - t0)

    return series


def battery_voltage(soc_pct: float, power_w: float) -> float:
    """Terminal voltage of a 48 V LiFePO4 bank (16 cells) at ``soc_pct``, charging at
    ``power_w`` (> 0) or discharging (< 0): open-circuit voltage plus the resistive drop."""
    soc = min(100.0, max(0.0, soc_pct))
    for (s0, v0), (s1, v1) in zip(_LFP_OCV, _LFP_OCV[1:], strict=False):
        if soc <= s1:
            ocv = (v0 + (v1 - v0) * (soc - s0) / (s1 - s0)) * _CELLS_IN_SERIES
            break
    else:  # pragma: no cover - soc is clamped to 100
        ocv = _LFP_OCV[-1][1] * _CELLS_IN_SERIES
    current = power_w / ocv
    return ocv + current * _PACK_RESISTANCE_OHM


# -------------------------------------------------------------------------------- plant


class Plant:
    """The simulated plant. Not thread-safe; one owner steps it."""

    def __init__(
        self,
        config: PlantConfig,
        *,
        start_time: float,
        pv_profile: Profile | None = None,
        load_profile: Profile | None = None,
        max_substep_s: float = MAX_SUBSTEP_S,
    ) -> None:
        if not max_substep_s > 0:
            raise ValueError("max_substep_s must be above 0")
        self.config = config
        self.max_substep_s = max_substep_s
        self._pv = pv_profile or make_pv_profile(config)
        self._load = load_profile or make_load_profile(config)
        self._miner_draw: dict[str, float] = {}
        self._capacity_wh = config.battery_kwh * 1000.0
        self._stored_wh = self._capacity_wh * config.battery_initial_soc_pct / 100.0
        self._eta = math.sqrt(config.battery_efficiency)
        self._state = PlantState(time=start_time)
        self._state = self._instant(start_time, 0.0)

    # ---------------------------------------------------------------- inputs and outputs

    def set_miner_draw(self, name: str, watts: float) -> None:
        """A miner's real electrical draw from now on (W)."""
        if not math.isfinite(watts) or watts < 0:
            raise ValueError(f"miner draw must be a finite number >= 0, got {watts!r}")
        self._miner_draw[name] = float(watts)

    @property
    def miner_draws(self) -> dict[str, float]:
        return dict(self._miner_draw)

    def pv_potential_w(self, t: float) -> float:
        """What the panels could produce at ``t`` (W): the plant's PV profile, clouds included
        (what a forecast of this plant tries to predict)."""
        return max(0.0, self._pv(t))

    def house_load_w(self, t: float) -> float:
        """The house's own load at ``t`` (W), miners aside: the plant's load profile."""
        return max(0.0, self._load(t))

    @property
    def state(self) -> PlantState:
        return self._state

    def reading(self) -> EnergyReading:
        """What an inverter would report about the current state."""
        s = self._state
        grid = self.config.grid_connected
        warnings: tuple[str, ...] = ()
        if s.unserved_w > 0.5:
            warnings = ("battery empty: load not served",)
        if grid and s.grid_w > 0.5:
            mode = "Line"
        else:
            mode = "Battery"
        return EnergyReading(
            timestamp=s.time,
            pv_power_w=s.pv_w - s.curtailed_w,
            load_power_w=s.house_load_w + s.miners_w,
            battery_soc_pct=s.battery_soc_pct,
            battery_power_w=s.battery_power_w,
            battery_voltage_v=s.battery_voltage_v,
            grid_power_w=s.grid_w if grid else None,
            grid_voltage_v=230.0 if grid else None,
            grid_frequency_hz=50.0 if grid else None,
            inverter_mode=mode,
            warnings=warnings,
            heatsink_temperature_c=30.0 + 25.0 * min(1.0, s.pv_w / self.config.inverter_max_w),
            pv_curtailed=s.curtailed_w > 1.0,
        )

    # -------------------------------------------------------------------------- physics

    def step(self, now: float) -> PlantState:
        """Advance to ``now``, integrating energy since the last step. Going back is ignored."""
        t = self._state.time
        if now - t <= 1e-9:
            # No time to integrate, but the powers follow any new miner draw at once.
            self._state = self._instant(t, 0.0)
            return self._state
        while now - t > 1e-9:
            dt = min(self.max_substep_s, now - t)
            self._state = self._instant(t + dt, dt)
            t = self._state.time
        return self._state

    def _soc_pct(self) -> float:
        if self._capacity_wh <= 0:
            return 0.0
        return 100.0 * self._stored_wh / self._capacity_wh

    def _instant(self, t: float, dt: float) -> PlantState:
        """Dispatch the powers at ``t`` and, over the ``dt`` seconds ending there, the energy."""
        c = self.config
        mid = t - dt / 2
        pv = max(0.0, self._pv(mid))
        house = max(0.0, self._load(mid))
        miners = sum(self._miner_draw.values())
        load = house + miners
        hours = dt / 3600.0

        inverter_room = c.inverter_max_w
        direct = min(pv, load, inverter_room)
        inverter_room -= direct
        pv_left = pv - direct
        load_left = load - direct

        # Energy room in the battery over this step, in terminal watts.
        max_stored = self._capacity_wh * c.battery_max_soc_pct / 100.0
        min_stored = self._capacity_wh * c.battery_min_soc_pct / 100.0
        if hours > 0:
            charge_room_w = max(0.0, max_stored - self._stored_wh) / self._eta / hours
            discharge_room_w = max(0.0, self._stored_wh - min_stored) * self._eta / hours
        else:  # an instant: report what the battery would do, limited only by power and SoC
            charge_room_w = c.battery_max_charge_w if self._stored_wh < max_stored else 0.0
            discharge_room_w = c.battery_max_discharge_w if self._stored_wh > min_stored else 0.0

        charge = min(pv_left, c.battery_max_charge_w, charge_room_w)
        pv_left -= charge

        export = 0.0
        if c.grid_connected:
            export_cap = c.export_limit_w if c.export_limit_w is not None else math.inf
            export = min(pv_left, export_cap, inverter_room)
            inverter_room -= export
        curtailed = pv_left - export

        discharge = min(load_left, c.battery_max_discharge_w, discharge_room_w, inverter_room)
        load_left -= discharge
        grid_import = load_left if c.grid_connected else 0.0
        unserved = load_left - grid_import

        # Update the stored energy; losses split evenly between charge and discharge.
        stored_in = charge * self._eta * hours
        stored_out = discharge / self._eta * hours
        loss = charge * hours - stored_in + stored_out - discharge * hours
        self._stored_wh = min(max_stored, max(min_stored, self._stored_wh + stored_in - stored_out))
        battery_power = charge - discharge

        prev = self._state
        return replace(
            prev,
            time=t,
            pv_w=pv,
            house_load_w=house,
            miners_w=miners,
            battery_soc_pct=self._soc_pct(),
            battery_power_w=battery_power,
            battery_voltage_v=battery_voltage(self._soc_pct(), battery_power),
            grid_w=grid_import - export,
            curtailed_w=curtailed,
            unserved_w=unserved,
            pv_wh=prev.pv_wh + pv * hours,
            house_load_wh=prev.house_load_wh + house * hours,
            miners_wh=prev.miners_wh + miners * hours,
            battery_in_wh=prev.battery_in_wh + charge * hours,
            battery_out_wh=prev.battery_out_wh + discharge * hours,
            grid_import_wh=prev.grid_import_wh + grid_import * hours,
            grid_export_wh=prev.grid_export_wh + export * hours,
            curtailed_wh=prev.curtailed_wh + curtailed * hours,
            battery_loss_wh=prev.battery_loss_wh + loss,
            unserved_wh=prev.unserved_wh + unserved * hours,
        )

    @property
    def battery_stored_wh(self) -> float:
        return self._stored_wh
