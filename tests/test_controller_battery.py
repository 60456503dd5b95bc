"""Battery protection and off-grid surplus: forecast-dependent stop SoC, the floor, start SoC,
and the surplus a full battery hides."""

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

from edge_mining.control import Controller
from edge_mining.control.battery import stop_soc_for
from edge_mining.model import EnergyReading, Forecast

# Shipped defaults: stop 40 % without forecast, 30 % at >= 20 kWh, 60 % at <= 5 kWh.
SETTINGS = control()


def forecast(kwh: float | None, at: float = T0) -> Forecast:
    return Forecast(timestamp=at, tomorrow_wh=None if kwh is None else kwh * 1000.0)


@pytest.mark.parametrize(
    ("tomorrow_kwh", "expected_pct"),
    [
        (None, 40.0),  # no forecast: stop_soc_pct
        (40.0, 30.0),  # sunnier than "sunny"
        (20.0, 30.0),  # exactly sunny
        (12.5, 45.0),  # half way: linear
        (8.0, 54.0),
        (5.0, 60.0),  # exactly cloudy
        (0.0, 60.0),
    ],
)
def test_stop_soc_follows_tomorrows_forecast(tomorrow_kwh: float | None, expected_pct: float):
    assert stop_soc_for(SETTINGS, forecast(tomorrow_kwh), T0) == pytest.approx(expected_pct)
    # The decision reports the same figure.
    controller = Controller(SETTINGS, [miner("a")])
    fleet = Fleet([miner("a")])
    decision = controller.tick(
        snapshot(T0, battery_reading(T0, 0, fleet, 70), fleet, forecast=forecast(tomorrow_kwh))
    )
    assert decision.stop_soc_pct == pytest.approx(expected_pct)


def test_a_forecast_older_than_a_day_is_ignored() -> None:
    old = forecast(40.0, at=T0 - 25 * 3600)
    assert stop_soc_for(SETTINGS, old, T0) == 40.0
    assert stop_soc_for(SETTINGS, None, T0) == 40.0


def _night_run(
    forecast_rows: list[tuple[float, float, float | None, list[str]]],
) -> None:
    """A power-target miner running at night on the battery allowance, SoC falling."""
    settings = control(battery_allowance_w=1500, min_on_s=3600)
    a = miner("a", min_w=1000, max_w=1000)
    controller = Controller(settings, [a])
    fleet = Fleet([a], running={"a": True}, target={"a": 1000})
    for offset, soc, kwh, expected in forecast_rows:
        now = T0 + offset
        energy = battery_reading(now, 0.0, fleet, soc)  # no PV: the battery feeds the miner
        decision = step(
            controller, fleet, snapshot(now, energy, fleet, forecast=forecast(kwh, now))
        )
        assert brief(decision) == expected, (offset, decision.miner_reasons)
        if not expected:
            assert decision.miner_reasons["a"] == "running on the battery allowance"


def test_battery_floor_stops_at_once_with_a_cloudy_forecast() -> None:
    # Cloudy tomorrow: stop at 60 %, even inside the hour of minimum run time.
    _night_run([(0, 65, 2.0, []), (30, 61, 2.0, []), (35, 60, 2.0, ["a:stop"])])


def test_battery_floor_is_lower_with_a_sunny_forecast() -> None:
    _night_run(
        [(0, 65, 30.0, []), (30, 50, 30.0, []), (60, 31, 30.0, []), (90, 30, 30.0, ["a:stop"])]
    )


def test_a_forecast_change_moves_the_stop_soc() -> None:
    # At 50 % the miner may run while tomorrow looks sunny; the forecast turns cloudy: stop.
    _night_run([(0, 50, 30.0, []), (30, 50, 30.0, []), (60, 50, 4.0, ["a:stop"])])


def test_below_start_soc_the_battery_charges_first() -> None:
    """Off-grid, PV surplus 2500 W: it all goes to the battery until the start SoC."""
    a = miner("a", power_target=False, min_w=1500, max_w=1500)
    controller = Controller(SETTINGS, [a])
    fleet = Fleet([a])
    rows = [
        (0, 60.0, []),
        (60, 75.0, []),
        (120, 79.9, []),
        (130, 80.0, []),
        (190, 81.0, ["a:start"]),
    ]
    for offset, soc, expected in rows:
        now = T0 + offset
        decision = step(
            controller, fleet, snapshot(now, battery_reading(now, 2500, fleet, soc), fleet)
        )
        assert brief(decision) == expected, (offset, decision.miner_reasons)
    assert "start" in decision.miner_reasons["a"]


def test_starting_on_the_battery_allowance_needs_the_start_soc() -> None:
    settings = control(battery_allowance_w=2000)
    a = miner("a", power_target=False, min_w=1500, max_w=1500)
    controller = Controller(settings, [a])
    fleet = Fleet([a])
    rows = [
        (0, 79.0, []),
        (60, 79.0, []),
        (120, 79.0, []),
        (130, 80.0, []),
        (190, 80.0, ["a:start"]),
    ]
    for offset, soc, expected in rows:
        now = T0 + offset
        decision = step(
            controller, fleet, snapshot(now, battery_reading(now, 0, fleet, soc), fleet)
        )
        assert brief(decision) == expected, (offset, decision.miner_reasons)


def test_grid_tied_export_may_be_mined_below_the_stop_soc() -> None:
    """Battery low but charging at its limit and still exporting: mining the export is free."""
    a = miner("a", power_target=False, min_w=1500, max_w=1500)
    controller = Controller(SETTINGS, [a])
    fleet = Fleet([a])
    for offset, expected in [(0, []), (60, ["a:start"]), (90, [])]:
        now = T0 + offset
        draw = fleet.total_draw_w
        energy = EnergyReading(
            timestamp=now, battery_soc_pct=20.0, battery_power_w=3000.0, grid_power_w=draw - 2000.0
        )
        decision = step(controller, fleet, snapshot(now, energy, fleet))
        assert brief(decision) == expected, (offset, decision.miner_reasons)


class FullBatterySite:
    """Off-grid, battery full: PV is curtailed to what is used; a deficit comes from the battery."""

    def __init__(self, fleet: Fleet) -> None:
        self.fleet = fleet

    def reading(self, now: float, pv_spare_w: float, soc: float = 99.0) -> EnergyReading:
        draw = self.fleet.total_draw_w
        return EnergyReading(
            timestamp=now, battery_soc_pct=soc, battery_power_w=min(0.0, pv_spare_w - draw)
        )


def test_hidden_surplus_is_probed_upward_and_backed_off() -> None:
    settings = control(start_delay_s=30, margin_w=50)
    a = miner("a", min_w=500, max_w=3000)
    controller = Controller(settings, [a])
    fleet = Fleet([a], target={"a": 500})
    site = FullBatterySite(fleet)
    targets = []
    # 30 minutes with 2500 W of PV to spare that nobody can see: probe upwards.
    for tick in range(360):
        now = T0 + tick * 5.0
        decision = step(controller, fleet, snapshot(now, site.reading(now, 2500), fleet))
        assert fleet.total_draw_w <= 2500 + settings.probe_step_w
        targets.append(fleet.total_draw_w)
    assert fleet.starts["a"] == 1
    assert max(targets) >= 2300  # found (nearly) all of it
    assert min(targets[-60:]) >= 2000  # and stays near it (no saw-tooth down to the minimum)
    assert "probing" in decision.reason
    # A cloud: only 1200 W to spare, the battery starts to discharge: back off at once.
    start = T0 + 360 * 5.0
    for tick in range(3):
        now = start + tick * 5.0
        step(controller, fleet, snapshot(now, site.reading(now, 1200), fleet))
    assert fleet.total_draw_w <= 1200


def test_hidden_surplus_probe_start_of_an_on_off_miner_is_bounded() -> None:
    """A plug miner on a full battery: tried once the battery has been full for the delay; if
    the PV cannot carry it, it is stopped after the stop delay and minimum run time, and the
    daily start limit bounds the attempts."""
    settings = control(max_starts_per_day=3)
    plug = miner("p", power_target=False, min_w=2000, max_w=2000)
    controller = Controller(settings, [plug])
    fleet = Fleet([plug])
    site = FullBatterySite(fleet)
    for tick in range(12 * 60):  # an hour at 5 s
        now = T0 + tick * 5.0
        step(controller, fleet, snapshot(now, site.reading(now, 500), fleet))
    assert 1 <= fleet.starts["p"] <= 3
    # With enough PV the probe start holds.
    controller = Controller(settings, [plug])
    fleet = Fleet([plug])
    site = FullBatterySite(fleet)
    for tick in range(12 * 60):
        now = T0 + tick * 5.0
        step(controller, fleet, snapshot(now, site.reading(now, 2600), fleet))
    assert fleet.starts["p"] == 1 and fleet.running["p"]


def test_grid_site_without_grid_reading_is_missing_data() -> None:
    settings = control(site="grid_tied")
    a = miner("a")
    controller = Controller(settings, [a])
    fleet = Fleet([a], running={"a": True})
    energy = EnergyReading(timestamp=T0, battery_soc_pct=90.0, battery_power_w=500.0)
    decision = step(controller, fleet, snapshot(T0, energy, fleet))
    assert brief(decision) == ["a:stop"]
    assert decision.surplus_w is None
    assert "lacks" in decision.reason
    # Sanity: the same miner on a reading with grid power is kept.
    fleet = Fleet([a], running={"a": True}, target={"a": 1000})
    controller = Controller(settings, [a])
    decision = step(controller, fleet, snapshot(T0, grid_reading(T0, 3000, fleet), fleet))
    assert "a:stop" not in brief(decision)
