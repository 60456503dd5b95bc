"""Modes (off, manual, auto), a user's manual commands, stale data and the API's errors."""

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
from edge_mining.model import EnergyReading, Mode

TARGET = miner("a", min_w=1000, max_w=3000, priority=1)
PLUG = miner("p", power_target=False, min_w=1500, max_w=1500, priority=2)


def running_pair(**settings: object) -> tuple[Controller, Fleet]:
    controller = Controller(control(**settings), [TARGET, PLUG])
    fleet = Fleet([TARGET, PLUG], running={"a": True, "p": True}, target={"a": 2000})
    return controller, fleet


@pytest.mark.parametrize(
    ("safe_action", "expected"),
    [("pause", ["a:stop", "p:stop"]), ("min_power", ["p:stop", "a:set_power:1000"])],
)
def test_stale_data_applies_the_safe_action_at_once(safe_action: str, expected: list[str]):
    controller, fleet = running_pair(safe_action=safe_action, min_on_s=3600)
    now = T0
    assert (
        brief(step(controller, fleet, snapshot(now, grid_reading(now, 3500, fleet), fleet))) == []
    )
    # 61 s after the last reading: stale (stale_after_s 60); the minimum run time does not count.
    now = T0 + 70
    old = grid_reading(T0 + 9, 5000, fleet)
    decision = step(controller, fleet, snapshot(now, old, fleet))
    assert brief(decision) == expected
    assert decision.surplus_w is None and decision.available_power_w == 0
    assert "stale" in decision.reason and "stale" in decision.miner_reasons["a"]
    # Still stale: nothing more is sent, nothing starts.
    decision = step(controller, fleet, snapshot(now + 5, old, fleet))
    assert brief(decision) == []


def test_missing_energy_data_applies_the_safe_action() -> None:
    controller, fleet = running_pair()
    decision = step(controller, fleet, snapshot(T0, None, fleet))
    assert brief(decision) == ["a:stop", "p:stop"]
    assert decision.reason == "no energy data: safe action pause"


def test_fresh_data_again_restarts_after_the_usual_delays() -> None:
    controller, fleet = running_pair(min_off_s=0)
    step(controller, fleet, snapshot(T0, None, fleet))
    assert not any(fleet.running.values())
    now = T0 + 10
    assert (
        brief(step(controller, fleet, snapshot(now, grid_reading(now, 3500, fleet), fleet))) == []
    )
    now = T0 + 70
    decision = step(controller, fleet, snapshot(now, grid_reading(now, 5000, fleet), fleet))
    assert brief(decision) == ["a:start:1500", "p:start"]


def test_mode_off_stops_everything_and_starts_nothing() -> None:
    controller, fleet = running_pair()
    controller.set_mode(Mode.OFF)
    decision = step(controller, fleet, snapshot(T0, grid_reading(T0, 9000, fleet), fleet))
    assert brief(decision) == ["a:stop", "p:stop"]
    assert decision.reason == "mode off"
    for offset in (60, 600):
        now = T0 + offset
        assert (
            brief(step(controller, fleet, snapshot(now, grid_reading(now, 9000, fleet), fleet)))
            == []
        )
    with pytest.raises(ValueError, match="mode is off"):
        controller.manual("a", running=True)


def test_manual_mode_acts_only_on_explicit_commands() -> None:
    controller, fleet = running_pair()
    controller.set_mode("manual")
    # No surplus at all: in auto both would stop after their delays; in manual nothing happens.
    for offset in range(0, 1200, 30):
        now = T0 + offset
        decision = step(controller, fleet, snapshot(now, grid_reading(now, 0, fleet), fleet))
        assert brief(decision) == []
    assert decision.miner_reasons["p"] == "manual mode: left as it is"
    controller.manual("p", running=False)
    now = T0 + 1200
    decision = step(controller, fleet, snapshot(now, grid_reading(now, 0, fleet), fleet))
    assert brief(decision) == ["p:stop"]
    controller.manual("a", power_w=2500)
    now += 5
    decision = step(controller, fleet, snapshot(now, grid_reading(now, 0, fleet), fleet))
    assert brief(decision) == ["a:set_power:2500"]


def test_manual_command_in_auto_holds_until_released() -> None:
    controller, fleet = running_pair(start_delay_s=0, min_off_s=0)
    controller.set_mode(Mode.AUTO)
    fleet.running = {"a": False, "p": False}
    controller.manual("p", running=False)
    assert controller.is_manual("p")
    # Plenty of surplus: a starts, p stays off while manual.
    decision = step(controller, fleet, snapshot(T0, grid_reading(T0, 6000, fleet), fleet))
    assert brief(decision) == ["a:start:1500"]
    assert decision.miner_reasons["p"] == "manual: stop"
    controller.release("p")
    now = T0 + 5
    decision = step(controller, fleet, snapshot(now, grid_reading(now, 6000, fleet), fleet))
    assert brief(decision) == ["p:start"]


def test_a_manual_run_counts_against_the_surplus_of_automatic_miners() -> None:
    controller, fleet = running_pair(start_delay_s=0)
    fleet.running = {"a": False, "p": False}
    controller.manual("a", running=True, power_w=3000)
    decision = step(controller, fleet, snapshot(T0, grid_reading(T0, 4000, fleet), fleet))
    # a takes 3000 W by hand: 1000 W left is not enough for p (1500 + 200 W).
    assert brief(decision) == ["a:start:3000"]


def test_battery_floor_cancels_a_manual_run() -> None:
    controller, fleet = running_pair()
    controller.set_mode(Mode.MANUAL)
    controller.manual("p", running=True)
    now = T0
    decision = step(controller, fleet, snapshot(now, battery_reading(now, 0, fleet, 50), fleet))
    assert brief(decision) == []  # above the stop SoC (40 %): the user's choice
    now += 5
    decision = step(controller, fleet, snapshot(now, battery_reading(now, 0, fleet, 40), fleet))
    assert brief(decision) == ["a:stop", "p:stop"]
    assert "cancelled" in decision.miner_reasons["p"]
    now += 5
    decision = step(controller, fleet, snapshot(now, battery_reading(now, 3000, fleet, 41), fleet))
    assert brief(decision) == []  # not restarted behind the user's back


def test_switching_to_auto_releases_manual_miners() -> None:
    controller, _ = running_pair()
    controller.set_mode(Mode.MANUAL)
    controller.manual("a", running=False)
    controller.set_mode(Mode.AUTO)
    assert not controller.is_manual("a")


@pytest.mark.parametrize(
    ("call", "message"),
    [
        (lambda c: c.manual("nope", running=True), "unknown miner 'nope'"),
        (lambda c: c.release("nope"), "unknown miner"),
        (lambda c: c.manual("a", power_w=5000), r"outside a's limits \[1000, 3000\] W"),
        (lambda c: c.manual("a", power_w=float("nan")), "outside"),
        (lambda c: c.manual("p", power_w=1500), "on/off only"),
        (lambda c: c.manual("a"), "nothing to do"),
        (lambda c: c.set_mode("turbo"), "turbo"),
        (lambda c: c.update_control(stop_soc_pct=95), "stop_soc_pct"),
        (lambda c: c.update_control(start_delay_s=-1), "start_delay_s"),
        (lambda c: c.update_control(no_such_setting=1), "no_such_setting"),
    ],
)
def test_bad_user_input_is_a_one_line_value_error(call, message: str) -> None:
    controller, _ = running_pair()
    with pytest.raises(ValueError, match=message) as caught:
        call(controller)
    assert "\n" not in str(caught.value)


def test_update_control_changes_thresholds_and_keeps_state() -> None:
    controller, fleet = running_pair(start_delay_s=0)
    fleet.running = {"a": False, "p": False}
    controller.update_control(start_surplus_w=5000.0)
    decision = step(controller, fleet, snapshot(T0, grid_reading(T0, 4000, fleet), fleet))
    assert brief(decision) == []
    assert controller.control.start_surplus_w == 5000.0
    controller.update_control(start_surplus_w=100.0)
    now = T0 + 5
    decision = step(controller, fleet, snapshot(now, grid_reading(now, 4000, fleet), fleet))
    assert "a:start:1500" in brief(decision)


def test_energy_from_pv_and_load_alone() -> None:
    """A source with neither battery nor grid power: pv - load (which includes the miners)."""
    controller = Controller(control(start_delay_s=0), [PLUG])
    fleet = Fleet([PLUG])
    energy = EnergyReading(timestamp=T0, pv_power_w=3000.0, load_power_w=800.0)
    decision = step(controller, fleet, snapshot(T0, energy, fleet))
    assert decision.surplus_w == 2200.0 and brief(decision) == ["p:start"]
