"""The plant simulator: shapes, battery limits, off-grid curtailment and the energy balance."""

from __future__ import annotations

import math
from datetime import UTC, datetime

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from edge_mining.config import PlantConfig
from edge_mining.sim.plant import Plant, battery_voltage, clear_sky_pv_w, load_series_csv

JUNE = datetime(2025, 6, 21, tzinfo=UTC).timestamp()
DECEMBER = datetime(2025, 12, 21, tzinfo=UTC).timestamp()


def run_day(plant: Plant, start: float, step_s: float = 60.0) -> None:
    t = start
    while t < start + 86400:
        t += step_s
        plant.step(t)


def test_clear_sky_shape_day_and_season():
    night = clear_sky_pv_w(JUNE + 0 * 3600, 45.0, 5.0)
    noon = clear_sky_pv_w(JUNE + 12 * 3600, 45.0, 5.0)
    morning = clear_sky_pv_w(JUNE + 8 * 3600, 45.0, 5.0)
    winter_noon = clear_sky_pv_w(DECEMBER + 12 * 3600, 45.0, 5.0)
    assert night == 0.0
    assert 3500 < noon < 5000  # a 5 kWp array near its rating on a clear June noon
    assert 0 < morning < noon
    assert winter_noon < noon
    # Symmetric around solar noon (12:00 UTC by construction).
    assert clear_sky_pv_w(JUNE + 9 * 3600, 45.0, 5.0) == pytest.approx(
        clear_sky_pv_w(JUNE + 15 * 3600, 45.0, 5.0), rel=1e-3
    )
    # The southern hemisphere has its summer in December.
    assert clear_sky_pv_w(DECEMBER + 12 * 3600, -35.0, 5.0) > clear_sky_pv_w(
        JUNE + 12 * 3600, -35.0, 5.0
    )


def test_daily_energy_and_load_scale():
    plant = Plant(PlantConfig(pv_kwp=5.0, house_load_kwh_per_year=3650.0), start_time=JUNE)
    run_day(plant, JUNE)
    s = plant.state
    assert 25_000 < s.pv_wh < 40_000  # clear June day, 5 kWp, 45°N
    # 3650 kWh/year is 10 kWh/day on average; summer is below average, by at most 15 %.
    assert 8_000 < s.house_load_wh < 10_500
    evening = Plant(PlantConfig(), start_time=JUNE).step  # a fresh plant to read the shape
    assert evening(JUNE + 19.5 * 3600).house_load_w > 0


def test_cloud_noise_is_seeded_and_reduces_pv():
    clear = Plant(PlantConfig(), start_time=JUNE)
    cloudy_a = Plant(PlantConfig(pv_cloud_noise=0.8, seed=7), start_time=JUNE)
    cloudy_b = Plant(PlantConfig(pv_cloud_noise=0.8, seed=7), start_time=JUNE)
    other = Plant(PlantConfig(pv_cloud_noise=0.8, seed=8), start_time=JUNE)
    for plant in (clear, cloudy_a, cloudy_b, other):
        run_day(plant, JUNE, 300.0)
    assert cloudy_a.state.pv_wh == cloudy_b.state.pv_wh
    assert cloudy_a.state.pv_wh != other.state.pv_wh
    assert cloudy_a.state.pv_wh < 0.9 * clear.state.pv_wh


def test_profiles_replace_the_models():
    plant = Plant(
        PlantConfig(battery_kwh=0.0),
        start_time=0.0,
        pv_profile=lambda t: 1000.0,
        load_profile=lambda t: 400.0,
    )
    s = plant.step(3600.0)
    assert s.pv_wh == pytest.approx(1000.0)
    assert s.house_load_wh == pytest.approx(400.0)
    assert s.grid_export_wh == pytest.approx(600.0)
    assert s.grid_w == pytest.approx(-600.0)


def test_csv_series_interpolates_and_repeats_daily(tmp_path):
    path = tmp_path / "pv.csv"
    path.write_text(
        "time,power_w\n2025-06-21T00:00:00,0\n2025-06-21T12:00:00,4000\n2025-06-21T23:59:00,0\n"
    )
    series = load_series_csv(path)
    assert series(JUNE + 6 * 3600) == pytest.approx(2000.0)
    assert series(JUNE + 86400 + 6 * 3600) == pytest.approx(2000.0)  # next day, same shape
    bad = tmp_path / "bad.csv"
    bad.write_text("time,power_w\n0,1\n")
    with pytest.raises(ValueError, match="at least two rows"):
        load_series_csv(bad)
    plant = Plant(PlantConfig(pv_series_csv=path), start_time=JUNE)
    assert plant.step(JUNE + 12 * 3600).pv_w == pytest.approx(4000.0, rel=0.01)


def test_miner_draw_feeds_back_into_the_load():
    plant = Plant(
        PlantConfig(battery_kwh=0.0),
        start_time=0.0,
        pv_profile=lambda t: 3000.0,
        load_profile=lambda t: 500.0,
    )
    assert plant.step(60.0).grid_w == pytest.approx(-2500.0)
    plant.set_miner_draw("a", 2000.0)
    s = plant.step(120.0)
    assert s.miners_w == 2000.0
    assert s.grid_w == pytest.approx(-500.0)
    assert plant.reading().load_power_w == pytest.approx(2500.0)
    plant.set_miner_draw("b", 1500.0)
    assert plant.step(180.0).grid_w == pytest.approx(1000.0)  # now importing
    with pytest.raises(ValueError):
        plant.set_miner_draw("a", -1.0)
    with pytest.raises(ValueError):
        plant.set_miner_draw("a", math.nan)


def test_battery_power_and_soc_limits():
    config = PlantConfig(
        battery_kwh=1.0,
        battery_max_charge_w=800.0,
        battery_max_discharge_w=600.0,
        battery_min_soc_pct=20.0,
        battery_max_soc_pct=90.0,
        battery_initial_soc_pct=50.0,
        grid_connected=True,
    )
    sun = Plant(config, start_time=0.0, pv_profile=lambda t: 3000.0, load_profile=lambda t: 0.0)
    s = sun.step(60.0)
    assert s.battery_power_w == pytest.approx(800.0)  # charge limit
    s = sun.step(4 * 3600.0)
    assert s.battery_soc_pct == pytest.approx(90.0)
    assert s.battery_power_w == pytest.approx(0.0, abs=1e-6)
    night = Plant(config, start_time=0.0, pv_profile=lambda t: 0.0, load_profile=lambda t: 2000.0)
    s = night.step(60.0)
    assert s.battery_power_w == pytest.approx(-600.0)  # discharge limit
    assert s.grid_w == pytest.approx(1400.0)
    s = night.step(4 * 3600.0)
    assert s.battery_soc_pct == pytest.approx(20.0)
    assert s.grid_w == pytest.approx(2000.0)


def test_round_trip_efficiency_is_accounted():
    config = PlantConfig(battery_kwh=10.0, battery_efficiency=0.81, battery_initial_soc_pct=50.0)
    plant = Plant(config, start_time=0.0, pv_profile=lambda t: 1000.0, load_profile=lambda t: 0.0)
    s = plant.step(3600.0)
    # 1 kWh in at the terminals, 0.9 kWh stored (sqrt of 0.81), 0.1 kWh lost.
    assert s.battery_in_wh == pytest.approx(1000.0)
    assert plant.battery_stored_wh == pytest.approx(5000.0 + 900.0)
    assert s.battery_loss_wh == pytest.approx(100.0)


def test_off_grid_curtails_when_full_and_counts_unserved_when_empty():
    config = PlantConfig(
        grid_connected=False, battery_kwh=2.0, battery_initial_soc_pct=99.0, inverter_max_w=6000.0
    )
    full = Plant(config, start_time=0.0, pv_profile=lambda t: 4000.0, load_profile=lambda t: 0.0)
    s = full.step(3600.0)
    assert s.battery_soc_pct == pytest.approx(100.0)
    assert s.curtailed_w == pytest.approx(4000.0)
    reading = full.reading()
    assert reading.pv_curtailed is True
    assert reading.pv_power_w == pytest.approx(0.0, abs=1e-6)  # the inverter reports what it makes
    assert reading.grid_power_w is None  # off-grid: no grid signal for the controller

    empty_config = config.model_copy(update={"battery_initial_soc_pct": 6.0})
    empty = Plant(
        empty_config, start_time=0.0, pv_profile=lambda t: 0.0, load_profile=lambda t: 500.0
    )
    s = empty.step(3600.0)
    assert s.battery_soc_pct == pytest.approx(5.0)
    assert s.unserved_w == pytest.approx(500.0)
    assert s.unserved_wh > 0
    assert empty.reading().warnings == ("battery empty: load not served",)
    assert abs(s.balance_error_wh) < 1e-6


def test_export_and_inverter_limits():
    config = PlantConfig(battery_kwh=0.0, export_limit_w=1000.0, inverter_max_w=3000.0)
    plant = Plant(config, start_time=0.0, pv_profile=lambda t: 5000.0, load_profile=lambda t: 0.0)
    s = plant.step(60.0)
    assert s.grid_w == pytest.approx(-1000.0)
    assert s.curtailed_w == pytest.approx(4000.0)
    plant.set_miner_draw("m", 2500.0)
    s = plant.step(120.0)
    # 2500 W to the miner and 500 W export: the inverter's 3000 W is used up.
    assert s.grid_w == pytest.approx(-500.0)
    assert s.curtailed_w == pytest.approx(2000.0)


def test_battery_voltage_is_plausible_for_48v_lfp():
    assert 44.0 < battery_voltage(0.0, 0.0) < 46.0
    assert 52.0 < battery_voltage(50.0, 0.0) < 53.5
    assert 54.5 < battery_voltage(100.0, 0.0) < 56.0
    assert battery_voltage(50.0, 3000.0) > battery_voltage(50.0, 0.0) > battery_voltage(50.0, -3000)
    voltages = [battery_voltage(s, 0.0) for s in range(0, 101, 5)]
    assert voltages == sorted(voltages)


@settings(max_examples=60, deadline=None)
@given(
    grid=st.booleans(),
    battery_kwh=st.floats(0.0, 20.0),
    soc=st.floats(6.0, 99.0),
    export_limit=st.one_of(st.none(), st.floats(0.0, 5000.0)),
    steps=st.lists(
        st.tuples(st.floats(1.0, 900.0), st.floats(0.0, 5000.0)), min_size=1, max_size=20
    ),
)
def test_energy_balance_closes_every_step(grid, battery_kwh, soc, export_limit, steps):
    config = PlantConfig(
        grid_connected=grid,
        battery_kwh=battery_kwh,
        battery_initial_soc_pct=soc,
        export_limit_w=export_limit,
        pv_cloud_noise=0.5,
    )
    plant = Plant(config, start_time=JUNE + 6 * 3600)
    t = plant.state.time
    stored0 = plant.battery_stored_wh
    for dt, draw in steps:
        plant.set_miner_draw("m", draw)
        t += dt
        s = plant.step(t)
        assert abs(s.balance_error_wh) < 1e-6 * max(1.0, s.pv_wh + s.house_load_wh + s.miners_wh)
        assert config.battery_min_soc_pct - 1e-6 <= s.battery_soc_pct or battery_kwh == 0
        assert s.battery_soc_pct <= config.battery_max_soc_pct + 1e-6
        assert s.curtailed_w >= 0 and s.unserved_w >= 0
        if grid:
            assert s.unserved_wh == 0
            if export_limit is not None:
                assert -s.grid_w <= export_limit + 1e-6
    stored_change = plant.battery_stored_wh - stored0
    expected = s.battery_in_wh - s.battery_out_wh - s.battery_loss_wh
    assert stored_change == pytest.approx(expected, abs=1e-6)
