"""Backtest inputs: weather files through pvlib, the BDEW load, CSV series, the catalogue."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from edge_mining.analysis.backtest import csv_scenario, weather_scenario
from edge_mining.analysis.catalogue import find_model, miner_configs, parse_miner_spec
from edge_mining.analysis.load import bdew_household_w
from edge_mining.analysis.weather import detect_format, pv_power_w, pvlib_sample, read_weather

GREENSBORO = pvlib_sample("723170TYA.CSV")


@pytest.fixture(scope="module")
def greensboro():
    return read_weather(GREENSBORO)


def test_tmy3_greensboro_gives_a_plausible_pv_year(greensboro):
    assert len(greensboro.data) == 8760
    assert greensboro.latitude == pytest.approx(36.1)
    assert greensboro.utc_offset_h == -5
    # Records stand at the middle of their hour.
    assert greensboro.data.index[0].minute == 30
    pv = pv_power_w(greensboro, kwp=5.0, tilt=30, azimuth=180, losses_pct=14)
    specific_yield = pv.sum() / 1000 / 5.0  # kWh per kWp
    assert 1200 < specific_yield < 1600  # North Carolina, south-facing, 14 % losses
    assert pv.max() <= 5000.0
    # Midday beats morning; night is dark (local standard time).
    hourly = pv.groupby(pv.index.hour).mean()
    assert hourly[12] > hourly[8] > hourly[2] == 0.0
    # Facing north loses energy, more losses lose energy.
    assert pv_power_w(greensboro, kwp=5.0, azimuth=0).sum() < pv.sum()
    assert pv_power_w(greensboro, kwp=5.0, losses_pct=30).sum() < pv.sum()


def test_tmy2_reads_in_real_units():
    weather = read_weather(pvlib_sample("12839.tm2"))
    assert len(weather.data) == 8760
    assert 15 < weather.data["temp_air"].mean() < 30  # Miami, °C (not tenths)
    assert weather.data.index[0].year == weather.data.index[-1].year


def _write_epw(path: Path, weather) -> None:
    """An EPW built from the TMY3 data (same irradiance), to read it back through pvlib."""
    lines = [
        "LOCATION,Greensboro,NC,USA,TMY3,723170,36.1,-79.95,-5.0,273.0",
        "DESIGN CONDITIONS,0",
        "TYPICAL/EXTREME PERIODS,0",
        "GROUND TEMPERATURES,0",
        "HOLIDAYS/DAYLIGHT SAVINGS,No,0,0,0",
        "COMMENTS 1,test",
        "COMMENTS 2,test",
        "DATA PERIODS,1,1,Data,Sunday, 1/ 1,12/31",
    ]
    data = weather.data
    for i, row in enumerate(data.itertuples()):
        stamp = data.index[i]  # the middle of the hour: EPW counts hours 1..24
        fields = [2023, stamp.month, stamp.day, stamp.hour + 1, 60, "?"]
        fields += [row.temp_air, 10, 50, 101325, 0, 0, 300, row.ghi, row.dni, row.dhi]
        fields += [0, 0, 0, 0, 180, row.wind_speed, 5, 5, 10, 77777, 9, 999999999]
        fields += [10, 0.1, 0, 88, 0.2, 0, 1]
        lines.append(",".join(str(f) for f in fields))
    path.write_text("\n".join(lines) + "\n")


def test_epw_reads_like_the_same_data_in_tmy3(tmp_path, greensboro):
    path = tmp_path / "greensboro.epw"
    _write_epw(path, greensboro)
    assert detect_format(path) == "epw"
    epw = read_weather(path)
    assert (epw.data.index == greensboro.data.index).all()
    a = pv_power_w(epw, kwp=5.0).sum()
    b = pv_power_w(greensboro, kwp=5.0).sum()
    assert a == pytest.approx(b, rel=1e-9)


def test_unreadable_weather_files_are_clear_errors(tmp_path):
    junk = tmp_path / "junk.txt"
    junk.write_text("hello\n")
    with pytest.raises(ValueError, match="not a TMY3, TMY2 or EPW"):
        read_weather(junk)
    broken = tmp_path / "broken.csv"
    broken.write_text("1,2,3,4,5,6\nnot,a,tmy3\n")
    with pytest.raises(ValueError, match="cannot read as TMY3"):
        read_weather(broken)


def test_bdew_load_is_scaled_and_shaped():
    start, step = 1672531200.0, 900.0  # 2023-01-01 UTC
    load = bdew_household_w(4000.0, start, step, 365 * 96, 0.0)
    assert load.mean() * 8.76 == pytest.approx(4000.0, rel=1e-3)
    by_hour = load.reshape(365, 24, 4).mean(axis=(0, 2))
    assert by_hour[19] > 1.5 * by_hour[3]  # evening peak over the night
    assert bdew_household_w(2000.0, start, step, 96, 0.0) == pytest.approx(
        bdew_household_w(4000.0, start, step, 96, 0.0) / 2
    )


def test_weather_scenario_lines_up_pv_and_load_on_local_days():
    scenario, latitude = weather_scenario(
        GREENSBORO, kwp=5.0, tilt=30, azimuth=180, losses_pct=14,
        load_kwh_per_year=4000.0, step_s=900.0,
    )  # fmt: skip
    assert latitude == pytest.approx(36.1)
    assert scenario.steps == 365 * 96
    assert scenario.load_w.sum() * 0.25 / 1000 == pytest.approx(4000.0, rel=1e-3)
    # Interpolating hourly means onto the step grid keeps the year's energy.
    hourly = pv_power_w(read_weather(GREENSBORO), kwp=5.0).sum() / 1000
    assert scenario.pv_w.sum() * 0.25 / 1000 == pytest.approx(hourly, rel=0.01)
    # Local noon is sunnier than local 06:00 on average.
    by_step = scenario.pv_w.reshape(365, 96).mean(axis=0)
    assert by_step[48] > by_step[24]
    assert scenario.daily_pv_wh().shape == (365,)


def test_measured_pv_csv_scenario(tmp_path):
    path = tmp_path / "pv.csv"
    rows = ["time,power_w"]
    for hour in range(48):
        power = (
            max(0.0, 3000.0 * np.sin(np.pi * ((hour % 24) - 6) / 12)) if 6 <= hour % 24 <= 18 else 0
        )
        rows.append(f"{1700006400 + hour * 3600},{power:.1f}")
    path.write_text("\n".join(rows) + "\n")
    scenario = csv_scenario(path, load_kwh_per_year=3650.0, step_s=600.0)
    assert scenario.steps == 2 * 144
    assert scenario.pv_w.max() <= 3000.0
    csv_energy = sum(float(r.split(",")[1]) for r in rows[1:])
    assert scenario.pv_w.sum() / 6 == pytest.approx(csv_energy, rel=0.05)
    bad = tmp_path / "bad.csv"
    bad.write_text("time,power_w\n1700006400,100\n1700010000,abc\n")
    with pytest.raises(ValueError, match="bad.csv:3"):
        csv_scenario(bad, load_kwh_per_year=1.0, step_s=600.0)


def test_catalogue_and_miner_specs():
    s19j = find_model("s19j-pro")
    assert (s19j.nominal_power_w, s19j.nominal_hashrate_ths) == (3050.0, 100.0)
    assert s19j.efficiency_j_per_th == pytest.approx(30.5)
    for name in ("S9", "S19", "S21", "Bitaxe"):
        model = find_model(name)
        assert model.min_power_w <= model.nominal_power_w <= model.max_power_w
    assert find_model("S21").efficiency_j_per_th < find_model("S9").efficiency_j_per_th
    model, count = parse_miner_spec("3250W@95TH:2")
    assert (model.nominal_power_w, model.nominal_hashrate_ths, count) == (3250, 95, 2)
    assert not model.power_target
    configs = miner_configs(["S19j Pro:2", "Bitaxe"])
    assert [c.name for c in configs] == ["S19j-Pro-1", "S19j-Pro-2", "Bitaxe-3"]
    with pytest.raises(ValueError, match="unknown miner model"):
        parse_miner_spec("S99")
    with pytest.raises(ValueError, match="COUNT"):
        parse_miner_spec("S9:many")
