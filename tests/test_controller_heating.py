"""Heating zones (thermostat with hysteresis, budget beyond the surplus) and the economics gate."""

from __future__ import annotations

import pytest
from test_controller_support import (
    T0,
    Fleet,
    battery_reading,
    brief,
    control,
    grid_reading,
    miner,
    snapshot,
    step,
)

from edge_mining.config import EconomicsConfig, HeatingConfig, HeatingZone
from edge_mining.control import Controller
from edge_mining.control.economics import break_even_hashprice, revenue_per_kwh
from edge_mining.model import EnergyReading

HEATER = miner("h", power_target=False, min_w=1000, max_w=1000)


def heating(**zone: object) -> HeatingConfig:
    settings: dict[str, object] = {
        "name": "living",
        "setpoint_c": 20.0,
        "hysteresis_c": 0.5,
        "miners": ["h"],
        "grid_allowance_w": 1500.0,
        "battery_floor_pct": 50.0,
    }
    settings.update(zone)
    return HeatingConfig(enabled=True, zones=[HeatingZone.model_validate(settings)])


def test_heating_on_and_off_around_the_setpoint_with_hysteresis() -> None:
    """No surplus at all (grid-tied, no battery): the room's temperature alone decides."""
    controller = Controller(control(min_on_s=0, min_off_s=0), [HEATER], heating=heating())
    fleet = Fleet([HEATER])
    rows = [
        (0, 19.8, []),  # inside the band, heat not wanted yet
        (60, 19.6, []),
        (120, 19.4, []),  # below 19.5: wanted; start delay 60 s
        (180, 19.6, ["h:start"]),  # still wanted inside the band
        (600, 20.4, []),  # inside the band: keeps heating
        (900, 20.6, []),  # above 20.5: not wanted; stop delay 60 s
        (960, 20.6, ["h:stop"]),
        (1200, 19.9, []),  # inside the band: stays off
    ]
    for offset, temperature, expected in rows:
        now = T0 + offset
        decision = step(
            controller,
            fleet,
            snapshot(now, grid_reading(now, 0, fleet), fleet, temperatures={"living": temperature}),
        )
        assert brief(decision) == expected, (offset, decision.miner_reasons)
        if expected == ["h:start"]:
            assert decision.miner_reasons["h"].startswith("start")


def test_unknown_room_temperature_means_no_heat() -> None:
    controller = Controller(control(start_delay_s=0), [HEATER], heating=heating())
    fleet = Fleet([HEATER])
    decision = step(controller, fleet, snapshot(T0, grid_reading(T0, 0, fleet), fleet))
    assert brief(decision) == []


def test_heating_budget_limits_grid_import() -> None:
    """Two power-target heaters, 1500 W grid allowance, 400 W surplus: at most 1900 W in all."""
    zone_miners = [
        miner("h1", min_w=500, max_w=2000, priority=1),
        miner("h2", min_w=500, max_w=2000, priority=2),
    ]
    controller = Controller(
        control(start_delay_s=0, margin_w=0),
        zone_miners,
        heating=heating(miners=["h1", "h2"], grid_allowance_w=1500.0),
    )
    fleet = Fleet(zone_miners)
    for tick in range(120):
        now = T0 + tick * 5.0
        snap = snapshot(now, grid_reading(now, 400, fleet), fleet, temperatures={"living": 18.0})
        step(controller, fleet, snap)
        assert fleet.total_draw_w <= 400 + 1500
    assert fleet.total_draw_w >= 1900 - 100  # and uses it


def test_heating_import_only_within_the_price_limit() -> None:
    controller = Controller(
        control(start_delay_s=0),
        [HEATER],
        heating=heating(max_import_price_per_kwh=0.20),
        economics=EconomicsConfig(import_price_per_kwh=0.30),
    )
    fleet = Fleet([HEATER])
    snap = snapshot(T0, grid_reading(T0, 0, fleet), fleet, temperatures={"living": 18.0})
    assert brief(step(controller, fleet, snap)) == []


@pytest.mark.parametrize(("soc", "expected"), [(70.0, ["h:start"]), (50.0, [])])
def test_heating_may_use_the_battery_down_to_its_floor(soc: float, expected: list[str]):
    controller = Controller(
        control(start_delay_s=0), [HEATER], heating=heating(grid_allowance_w=0.0)
    )
    fleet = Fleet([HEATER])
    snap = snapshot(T0, battery_reading(T0, 0, fleet, soc), fleet, temperatures={"living": 18.0})
    assert brief(step(controller, fleet, snap)) == expected


def test_a_heat_only_zone_takes_no_surplus_when_warm() -> None:
    """Plenty of surplus: a heat-only heater still follows its thermostat; a plain one mines."""
    for heat_only, expected in ((True, []), (False, ["h:start"])):
        controller = Controller(
            control(start_delay_s=0), [HEATER], heating=heating(heat_only=heat_only)
        )
        fleet = Fleet([HEATER])
        snap = snapshot(T0, grid_reading(T0, 3000, fleet), fleet, temperatures={"living": 22.0})
        decision = step(controller, fleet, snap)
        assert brief(decision) == expected, decision.miner_reasons
        if heat_only:
            assert "(heat only: living is warm)" in decision.miner_reasons["h"]
    # Cold: the heat-only heater starts.
    controller = Controller(control(start_delay_s=0), [HEATER], heating=heating(heat_only=True))
    fleet = Fleet([HEATER])
    snap = snapshot(T0, grid_reading(T0, 3000, fleet), fleet, temperatures={"living": 18.0})
    assert brief(step(controller, fleet, snap)) == ["h:start"]


def test_a_heat_only_heater_stops_when_the_room_is_warm() -> None:
    controller = Controller(
        control(min_on_s=0, stop_delay_s=0), [HEATER], heating=heating(heat_only=True)
    )
    fleet = Fleet([HEATER], running={"h": True})
    rows = [(0, 19.0, []), (60, 20.4, []), (120, 20.6, ["h:stop"])]
    for offset, temperature, expected in rows:
        now = T0 + offset
        snap = snapshot(
            now, grid_reading(now, 3000, fleet), fleet, temperatures={"living": temperature}
        )
        assert brief(step(controller, fleet, snap)) == expected, offset


# ----------------------------------------------------------------------------- economics

# 100 TH/s at 3000 W: revenue per kWh = hashprice * 100 / 72.
GATED = miner("g", power_target=False, min_w=3000, max_w=3000, ths=100.0)


def economics(hashprice: float, **changes: object) -> EconomicsConfig:
    settings: dict[str, object] = {
        "export_price_per_kwh": 0.08,
        "margin_per_kwh": 0.01,
        "hashprice_per_th_day": hashprice,
        "gate_enabled": True,
    }
    settings.update(changes)
    return EconomicsConfig.model_validate(settings)


def test_break_even_hashprice() -> None:
    assert break_even_hashprice(GATED, economics(0.0)) == pytest.approx(0.09 * 72 / 100)
    assert revenue_per_kwh(GATED, economics(0.0648)) == pytest.approx(0.09)


@pytest.mark.parametrize(
    ("hashprice", "expected"),
    [(0.0640, []), (0.0648, []), (0.0656, ["g:start"])],  # break-even at 0.0648
)
def test_economics_gate_switches_at_the_break_even_price(hashprice: float, expected: list[str]):
    controller = Controller(control(start_delay_s=0), [GATED], economics=economics(hashprice))
    fleet = Fleet([GATED])
    decision = step(controller, fleet, snapshot(T0, grid_reading(T0, 5000, fleet), fleet))
    assert brief(decision) == expected
    if not expected:
        assert "economics" in decision.miner_reasons["g"]


def test_economics_gate_stops_a_running_miner_after_its_delays() -> None:
    controller = Controller(control(min_on_s=0), [GATED], economics=economics(0.05))
    fleet = Fleet([GATED], running={"g": True})
    rows = [(0, []), (30, []), (60, ["g:stop"])]
    for offset, expected in rows:
        now = T0 + offset
        decision = step(controller, fleet, snapshot(now, grid_reading(now, 5000, fleet), fleet))
        assert brief(decision) == expected


def test_economics_gate_does_not_apply_to_energy_that_cannot_be_exported() -> None:
    controller = Controller(control(start_delay_s=0), [GATED], economics=economics(0.01))
    fleet = Fleet([GATED])
    # Off-grid: the battery is full enough and charging 4 kW; nothing could be exported.
    decision = step(controller, fleet, snapshot(T0, battery_reading(T0, 4000, fleet, 90), fleet))
    assert brief(decision) == ["g:start"]
    # Grid-tied but PV curtailed (export limit reached): not exportable either.
    controller = Controller(control(start_delay_s=0), [GATED], economics=economics(0.01))
    fleet = Fleet([GATED])
    energy = EnergyReading(timestamp=T0, grid_power_w=-3500.0, pv_curtailed=True)
    assert brief(step(controller, fleet, snapshot(T0, energy, fleet))) == ["g:start"]


def test_heat_value_lifts_a_miner_over_the_gate() -> None:
    gated_heater = miner("h", power_target=False, min_w=3000, max_w=3000, ths=100.0)
    zone = heating(grid_allowance_w=0.0)
    zone = zone.model_copy(update={"heat_value_per_kwh": 0.05})
    controller = Controller(
        control(start_delay_s=0), [gated_heater], heating=zone, economics=economics(0.05)
    )
    fleet = Fleet([gated_heater])
    # Warm room: revenue 0.069 < 0.09: gated. Cold room: 0.069 + 0.05 heat > 0.09: runs.
    snap = snapshot(T0, grid_reading(T0, 5000, fleet), fleet, temperatures={"living": 22.0})
    assert brief(step(controller, fleet, snap)) == []
    now = T0 + 5
    snap = snapshot(now, grid_reading(now, 5000, fleet), fleet, temperatures={"living": 18.0})
    assert brief(step(controller, fleet, snap)) == ["h:start"]
