"""Weather files to PV power, with pvlib.

Readers: TMY3 (``.csv``), TMY2 (``.tm2``) and EPW (``.epw``), all through ``pvlib.iotools``.
The year is coerced to one non-leap year so a typical-year file reads as one calendar year;
each hourly record is placed at the middle of the hour it describes (TMY3 and EPW label the
hour's end, TMY2 as pvlib reads it the hour's start).

PV model (PVWatts-style, all pvlib): solar position, Hay-Davies transposition onto a plane
of ``tilt`` / ``azimuth`` (degrees, 180 = south), Faiman cell temperature, ``pvwatts_dc``
with -0.4 %/°C, then ``losses_pct`` system losses (soiling, wiring, mismatch...: PVWatts's
default is 14 %) and the PVWatts inverter model (96 % nominal efficiency, AC limited to the
array's kWp unless ``inverter_kw`` says otherwise).
"""

from __future__ import annotations

import warnings
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd
import pvlib

COERCED_YEAR = 2023  # not a leap year: typical-year files have 8760 hours


@dataclass(frozen=True)
class Weather:
    """Hourly weather: columns ghi, dni, dhi (W/m²), temp_air (°C), wind_speed (m/s), indexed
    by the middle of each hour (tz-aware, local standard time)."""

    data: pd.DataFrame
    latitude: float
    longitude: float
    altitude: float
    utc_offset_h: float
    name: str

    @property
    def year_start(self) -> float:
        """Epoch seconds of local midnight on 1 January of the coerced year."""
        offset = int(self.utc_offset_h * 3600)
        return pd.Timestamp(f"{COERCED_YEAR}-01-01", tz=_fixed_tz(offset)).timestamp()


def _fixed_tz(offset_s: int) -> object:
    from datetime import timedelta, timezone

    return timezone(timedelta(seconds=offset_s))


def detect_format(path: Path) -> str:
    """'tmy3', 'tmy2' or 'epw', from the extension or, failing that, the first line."""
    suffix = path.suffix.lower()
    if suffix == ".epw":
        return "epw"
    if suffix == ".tm2":
        return "tmy2"
    try:
        with path.open(encoding="utf-8", errors="replace") as handle:
            first = handle.readline()
    except OSError as error:
        raise ValueError(f"{path}: cannot read: {error.strerror or error}") from None
    if first.upper().startswith("LOCATION,"):
        return "epw"
    if first.count(",") >= 5:
        return "tmy3"
    if len(first.split()) >= 5:
        return "tmy2"
    raise ValueError(f"{path}: not a TMY3, TMY2 or EPW weather file")


def read_weather(path: Path) -> Weather:
    """Read a TMY3, TMY2 or EPW file into hourly :class:`Weather`."""
    with warnings.catch_warnings():
        # pvlib's readers use pandas idioms newer pandas deprecates; nothing to act on.
        warnings.filterwarnings("ignore", module="pvlib")
        return _read_weather(path)


def _read_weather(path: Path) -> Weather:
    kind = detect_format(path)
    try:
        if kind == "tmy3":
            data, meta = pvlib.iotools.read_tmy3(
                str(path), coerce_year=COERCED_YEAR, map_variables=True
            )
            centres = data.index - pd.Timedelta(minutes=30)
            frame = data[["ghi", "dni", "dhi", "temp_air", "wind_speed"]]
            name = str(meta.get("Name", path.stem)).strip('"')
        elif kind == "epw":
            data, meta = pvlib.iotools.read_epw(str(path), coerce_year=COERCED_YEAR)
            centres = data.index + pd.Timedelta(minutes=30)
            frame = data[["ghi", "dni", "dhi", "temp_air", "wind_speed"]]
            name = str(meta.get("city", path.stem))
        else:
            data, meta = pvlib.iotools.read_tmy2(str(path))
            # TMY2 months come from different years: rebuild the index on one year. pvlib
            # labels each record with the start of its hour.
            local = pd.to_datetime(
                {
                    "year": COERCED_YEAR,
                    "month": data["month"].to_numpy(),
                    "day": data["day"].to_numpy(),
                }
            ) + pd.to_timedelta(data["hour"].to_numpy() - 1, unit="h")
            index = pd.DatetimeIndex(local).tz_localize(_fixed_tz(int(meta["TZ"] * 3600)))
            centres = index + pd.Timedelta(minutes=30)
            frame = pd.DataFrame(
                {
                    "ghi": data["GHI"].to_numpy(float),
                    "dni": data["DNI"].to_numpy(float),
                    "dhi": data["DHI"].to_numpy(float),
                    # TMY2 stores tenths of a degree and tenths of a metre per second.
                    "temp_air": data["DryBulb"].to_numpy(float) / 10.0,
                    "wind_speed": data["Wspd"].to_numpy(float) / 10.0,
                },
                index=data.index,
            )
            name = str(meta.get("City", path.stem))
    except (OSError, KeyError, ValueError, IndexError) as error:
        raise ValueError(f"{path}: cannot read as {kind.upper()}: {error}") from None
    frame = frame.copy()
    frame.index = pd.DatetimeIndex(centres)
    frame = frame.astype(float).fillna(0.0)
    return Weather(
        data=frame,
        latitude=float(meta["latitude"]),
        longitude=float(meta["longitude"]),
        altitude=float(meta.get("altitude", 0.0) or 0.0),
        utc_offset_h=float(meta.get("TZ", 0.0)),
        name=name,
    )


def pv_power_w(
    weather: Weather,
    *,
    kwp: float,
    tilt: float = 30.0,
    azimuth: float = 180.0,
    losses_pct: float = 14.0,
    inverter_kw: float | None = None,
) -> pd.Series:
    """Mean AC power (W) of each hour of ``weather`` (same index)."""
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", module="pvlib")
        return _pv_power_w(weather, kwp, tilt, azimuth, losses_pct, inverter_kw)


def _pv_power_w(
    weather: Weather,
    kwp: float,
    tilt: float,
    azimuth: float,
    losses_pct: float,
    inverter_kw: float | None,
) -> pd.Series:
    if kwp <= 0:
        raise ValueError("kWp must be above 0")
    if not 0.0 <= losses_pct < 100.0:
        raise ValueError(f"losses must be in [0, 100) %, got {losses_pct!r}")
    data = weather.data
    times = data.index
    location = pvlib.location.Location(
        weather.latitude, weather.longitude, altitude=weather.altitude
    )
    sun = location.get_solarposition(times)
    dni_extra = pvlib.irradiance.get_extra_radiation(times)
    poa = pvlib.irradiance.get_total_irradiance(
        surface_tilt=tilt,
        surface_azimuth=azimuth,
        solar_zenith=sun["apparent_zenith"],
        solar_azimuth=sun["azimuth"],
        dni=data["dni"],
        ghi=data["ghi"],
        dhi=data["dhi"],
        dni_extra=dni_extra,
        model="haydavies",
    )
    poa_global = poa["poa_global"].fillna(0.0).clip(lower=0.0)
    cell_c = pvlib.temperature.faiman(poa_global, data["temp_air"], data["wind_speed"])
    pdc0 = kwp * 1000.0
    dc = pvlib.pvsystem.pvwatts_dc(poa_global, cell_c, pdc0, -0.004)
    dc = dc * (1.0 - losses_pct / 100.0)
    ac_rating = (inverter_kw * 1000.0) if inverter_kw else pdc0
    ac = pvlib.inverter.pvwatts(dc, pdc0=ac_rating / 0.96, eta_inv_nom=0.96)
    return pd.Series(np.clip(np.nan_to_num(ac.to_numpy(float)), 0.0, None), index=times)


def pvlib_sample(name: str = "723170TYA.CSV") -> Path:
    """A weather file shipped with pvlib (Greensboro NC TMY3 by default)."""
    return Path(pvlib.__file__).parent / "data" / name
