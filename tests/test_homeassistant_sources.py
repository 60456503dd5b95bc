"""Energy and forecast sources from Home Assistant entities, against a loopback HA API."""

from __future__ import annotations

import logging
from datetime import UTC, datetime

import pytest

from edge_mining.clock import ManualClock
from edge_mining.config import (
    EntityQuantity,
    ForecastConfig,
    HomeAssistantConfig,
    HomeAssistantSourceConfig,
)
from edge_mining.devices.base import (
    DeviceAuthError,
    DeviceUnavailable,
    EnergySource,
    ForecastSource,
)
from edge_mining.devices.homeassistant.client import EntityNotFound
from edge_mining.devices.homeassistant.forecast import HomeAssistantForecastSource
from edge_mining.devices.homeassistant.source import HomeAssistantEnergySource
from tests.ha_server import running_home_assistant
from tests.loopback_http import Reply

TOKEN = "token-1234567890"
NOW = datetime(2024, 4, 27, 10, 20, tzinfo=UTC).timestamp()


def source_config(**overrides) -> HomeAssistantSourceConfig:
    fields = {
        "type": "homeassistant",
        "pv_power": EntityQuantity(entity_id="sensor.pv_power"),
        "load_power": EntityQuantity(entity_id="sensor.load_power"),
        "battery_soc": EntityQuantity(entity_id="sensor.battery_soc"),
        # This inverter reports discharging as positive: flipped to our convention.
        "battery_power": EntityQuantity(entity_id="sensor.battery_power", invert=True),
        "grid_power": EntityQuantity(entity_id="sensor.grid_power"),
        **overrides,
    }
    return HomeAssistantSourceConfig(**fields)


def plant_entities(ha) -> None:
    ha.set("sensor.pv_power", "2.5", "kW", device_class="power")
    ha.set("sensor.load_power", "812", "W", device_class="power")
    ha.set("sensor.battery_soc", "76", "%", device_class="battery")
    ha.set("sensor.battery_power", "1.2", "kW", device_class="power")
    ha.set("sensor.grid_power", "-150", "W", device_class="power")


def energy_source(ha, timeout_s: float = 10.0, **overrides) -> HomeAssistantEnergySource:
    # A long timeout unless a test wants one to pass: a loaded machine can be slow to reply.
    return HomeAssistantEnergySource(
        source_config(**overrides),
        HomeAssistantConfig(url=ha.url, token=TOKEN, timeout_s=timeout_s),
        clock=ManualClock(NOW),
    )


async def test_energy_reading_converts_units_and_signs():
    with running_home_assistant(token=TOKEN) as ha:
        plant_entities(ha)
        source = energy_source(ha)
        assert isinstance(source, EnergySource)
        reading = await source.read()
        await source.close()
    assert reading.timestamp == NOW
    assert reading.pv_power_w == 2500.0
    assert reading.load_power_w == 812.0
    assert reading.battery_soc_pct == 76.0
    assert reading.battery_power_w == -1200.0  # discharging
    assert reading.grid_power_w == -150.0  # exporting
    assert sorted(r.path for r in ha.requests) == sorted(
        f"/api/states/sensor.{name}"
        for name in ("pv_power", "load_power", "battery_soc", "battery_power", "grid_power")
    )


async def test_unavailable_entity_leaves_its_field_empty_and_is_reported_once(caplog):
    caplog.set_level(logging.INFO, logger="edge_mining")
    with running_home_assistant(token=TOKEN) as ha:
        plant_entities(ha)
        ha.set("sensor.grid_power", "unavailable", "W")
        source = energy_source(ha)
        readings = [await source.read() for _ in range(3)]
        ha.set("sensor.grid_power", "0.3", "kW")
        recovered = await source.read()
        await source.close()
    assert all(r.grid_power_w is None and r.pv_power_w == 2500.0 for r in readings)
    assert recovered.grid_power_w == 300.0
    warnings = [r.getMessage() for r in caplog.records if r.levelno == logging.WARNING]
    assert warnings == ["Home Assistant energy source: sensor.grid_power is unavailable"]
    assert source.failures.counts["unavailable sensor.grid_power"] == 3
    assert any("recovered" in r.getMessage() for r in caplog.records)


@pytest.mark.parametrize(
    ("state", "unit", "kind"),
    [
        ("1.5", "kWh", "unit sensor.pv_power"),  # an energy counter picked by mistake
        ("abc", "W", "malformed sensor.pv_power"),
        ("unknown", "W", "unavailable sensor.pv_power"),
    ],
)
async def test_bad_entity_states_are_reported_by_kind(state, unit, kind):
    with running_home_assistant(token=TOKEN) as ha:
        plant_entities(ha)
        ha.set("sensor.pv_power", state, unit)
        source = energy_source(ha)
        reading = await source.read()
        await source.close()
    assert reading.pv_power_w is None
    assert reading.load_power_w == 812.0
    assert source.failures.failing == {kind}


async def test_unknown_entity_is_reported_and_the_rest_still_read():
    with running_home_assistant(token=TOKEN) as ha:
        plant_entities(ha)
        source = energy_source(ha, load_power=EntityQuantity(entity_id="sensor.typo_load"))
        reading = await source.read()
        await source.close()
    assert reading.load_power_w is None and reading.battery_soc_pct == 76.0
    assert source.failures.failing == {"unknown_entity sensor.typo_load"}


async def test_nothing_readable_raises_and_is_logged_once(caplog):
    caplog.set_level(logging.WARNING, logger="edge_mining")
    with running_home_assistant(token="another-token") as ha:
        plant_entities(ha)
        source = energy_source(ha)
        for _ in range(3):
            with pytest.raises(DeviceAuthError):
                await source.read()
        await source.close()
    assert len(caplog.records) == 1
    assert source.failures.counts["auth"] == 15  # 5 entities x 3 reads, one line


async def test_home_assistant_timing_out_raises_device_unavailable():
    with running_home_assistant(token=TOKEN) as ha:
        plant_entities(ha)
        ha.override = lambda request: Reply(200, b"{}", delay_s=2.0)
        source = energy_source(ha, timeout_s=0.3)
        with pytest.raises(DeviceUnavailable):
            await source.read()
        await source.close()
    assert source.failures.failing == {"timeout"}


# ---------------------------------------------------------------------------- forecast


def forecast_source(ha, **fields) -> HomeAssistantForecastSource:
    return HomeAssistantForecastSource(
        ForecastConfig(type="homeassistant", **fields),
        HomeAssistantConfig(url=ha.url, token=TOKEN),
        clock=ManualClock(NOW),
    )


async def test_forecast_solar_integration_sensors_in_kwh():
    with running_home_assistant(token=TOKEN) as ha:
        ha.set("sensor.energy_production_tomorrow", "23.456", "kWh", device_class="energy")
        ha.set("sensor.energy_production_today_remaining", "7.8", "kWh", device_class="energy")
        source = forecast_source(
            ha,
            tomorrow_entity="sensor.energy_production_tomorrow",
            today_remaining_entity="sensor.energy_production_today_remaining",
        )
        assert isinstance(source, ForecastSource)
        forecast = await source.read()
        await source.close()
    assert forecast.tomorrow_wh == pytest.approx(23456.0)
    assert forecast.today_remaining_wh == pytest.approx(7800.0)
    assert forecast.next_hours_w == ()
    assert forecast.timestamp == NOW


async def test_solcast_sensors_give_hourly_power_too():
    def hourly(day: int, kw: list[float]) -> list[dict]:
        return [
            {
                "period_start": datetime(2024, 4, day, hour, tzinfo=UTC).isoformat(),
                "pv_estimate": value,
                "pv_estimate10": value * 0.8,
                "pv_estimate90": value * 1.1,
            }
            for hour, value in zip(range(8, 8 + len(kw)), kw, strict=False)
        ]

    with running_home_assistant(token=TOKEN) as ha:
        ha.set(
            "sensor.solcast_pv_forecast_forecast_remaining_today",
            "9.1",
            "kWh",
            detailedHourly=hourly(27, [1.0, 2.0, 3.5, 4.0, 4.2]),
        )
        ha.set(
            "sensor.solcast_pv_forecast_forecast_tomorrow",
            "31200",
            "Wh",
            estimate=31.2,
            detailedHourly=hourly(28, [0.5, 1.5]),
        )
        source = forecast_source(
            ha,
            tomorrow_entity="sensor.solcast_pv_forecast_forecast_tomorrow",
            today_remaining_entity="sensor.solcast_pv_forecast_forecast_remaining_today",
        )
        forecast = await source.read()
        await source.close()
    assert forecast.tomorrow_wh == 31200.0
    assert forecast.today_remaining_wh == pytest.approx(9100.0)
    hours = dict(forecast.next_hours_w)
    ten = datetime(2024, 4, 27, 10, tzinfo=UTC).timestamp()
    # The current hour (10:00, it is 10:20) onwards; past hours dropped.
    assert min(hours) == ten
    assert hours[ten] == 3500.0
    assert hours[datetime(2024, 4, 28, 9, tzinfo=UTC).timestamp()] == 1500.0
    assert len(hours) == 5


async def test_forecast_with_one_sensor_missing_keeps_the_other():
    with running_home_assistant(token=TOKEN) as ha:
        ha.set("sensor.energy_production_today_remaining", "4.2", "kWh")
        source = forecast_source(
            ha,
            tomorrow_entity="sensor.energy_production_tomorrow",
            today_remaining_entity="sensor.energy_production_today_remaining",
        )
        forecast = await source.read()
        assert forecast.tomorrow_wh is None
        assert forecast.today_remaining_wh == pytest.approx(4200.0)
        assert source.failures.failing == {"unknown_entity sensor.energy_production_tomorrow"}
        ha.set("sensor.energy_production_today_remaining", "unavailable", "kWh")
        with pytest.raises(EntityNotFound):
            await source.read()
        await source.close()


@pytest.mark.parametrize(
    ("tomorrow_kwh", "stop_soc"),
    [("25.0", 30.0), ("12.5", 45.0), ("3.1", 60.0), (None, 40.0)],
)
async def test_forecast_from_entities_moves_the_controllers_stop_soc(tomorrow_kwh, stop_soc):
    """Foundation rule: sunny tomorrow (>= 20 kWh) stops at 30 %, cloudy (<= 5 kWh) at 60 %,
    linear between; no forecast (the sensor missing) falls back to stop_soc_pct (40 %)."""
    from edge_mining.config import ControlConfig, MinerConfig
    from edge_mining.control import Controller
    from edge_mining.devices.base import DeviceError
    from edge_mining.model import EnergyReading, MinerState, MinerStatus, Snapshot

    with running_home_assistant(token=TOKEN) as ha:
        if tomorrow_kwh is not None:
            ha.set("sensor.energy_production_tomorrow", tomorrow_kwh, "kWh")
        source = forecast_source(ha, tomorrow_entity="sensor.energy_production_tomorrow")
        try:
            forecast = await source.read()
        except DeviceError:
            forecast = None
        await source.close()
    miner = MinerConfig(
        name="s19",
        min_power_w=1000,
        max_power_w=3000,
        nominal_hashrate_ths=100,
        nominal_power_w=3000,
    )
    controller = Controller(ControlConfig(), [miner])
    decision = controller.tick(
        Snapshot(
            time=NOW,
            energy=EnergyReading(
                timestamp=NOW,
                battery_soc_pct=70,
                pv_power_w=0,
                load_power_w=400,
                battery_power_w=-400,
                grid_power_w=0,
            ),
            miners={"s19": MinerState(name="s19", timestamp=NOW, status=MinerStatus.PAUSED)},
            forecast=forecast,
        )
    )
    assert decision.stop_soc_pct == pytest.approx(stop_soc)


def test_example_homeassistant_site_is_valid():
    from pathlib import Path

    from edge_mining.config import load_config

    site = load_config(
        Path(__file__).resolve().parents[1] / "examples" / "site-homeassistant.yaml",
        environ={"EDGE_MINING_HOMEASSISTANT_TOKEN": "t0ken"},
    )
    assert site.energy_source.type == "homeassistant"
    assert site.energy_source.battery_power.invert is True
    assert [m.driver for m in site.miners] == ["smartplug", "smartplug"]
    assert site.heating.zones[1].temperature_json_path == "temperature"
    assert site.economics.hashprice_source.json_path == "hash_price"
