"""Miners with discrete power levels: fill, follow, dwell, hysteresis, mixed with continuous
miners by marginal efficiency, heating zones, and levels reported by the driver."""

from __future__ import annotations

import math

from test_controller_support import (
    T0,
    Fleet,
    battery_reading,
    control,
    grid_reading,
    miner,
    snapshot,
    step,
)

from edge_mining.config import HeatingConfig, MinerConfig
from edge_mining.control import Controller
from edge_mining.control.levels import choose
from edge_mining.model import Action, MinerState, MinerStatus, PowerLevel

Q_LEVELS = [
    {"name": "eco", "power_w": 800, "hashrate_ths": 50},
    {"name": "standard", "power_w": 1391, "hashrate_ths": 81},
    {"name": "super", "power_w": 1674, "hashrate_ths": 90},
]


def avalon_q(name: str = "q", **extra: object) -> MinerConfig:
    data: dict[str, object] = {
        "name": name,
        "min_power_w": 800,
        "max_power_w": 1674,
        "nominal_hashrate_ths": 90,
        "nominal_power_w": 1674,
        "levels": Q_LEVELS,
        "level_dwell_s": 300,
    }
    data.update(extra)
    return MinerConfig(**data)


def levels_sent(decisions) -> list[float]:
    return [
        c.power_w
        for d in decisions
        for c in d.commands
        if c.power_w is not None and c.action in (Action.SET_POWER, Action.START)
    ]


def test_a_level_miner_runs_at_the_highest_level_that_fits():
    q = avalon_q()
    controller = Controller(control(), [q])
    fleet = Fleet([q])
    for tick in range(200):  # enough for the start delay, then the dwell
        now = T0 + tick * 5.0
        step(controller, fleet, snapshot(now, grid_reading(now, 1500.0, fleet), fleet))
    assert fleet.running["q"]
    assert fleet.target["q"] == 1391  # standard: 1674 does not fit in 1500 W
    assert all(t in (800, 1391, 1674) for t in fleet.target.values())


def test_no_flapping_between_two_levels_around_a_threshold():
    q = avalon_q()
    settings = control()
    controller = Controller(settings, [q])
    fleet = Fleet([q])
    decisions = []
    for tick in range(1440):  # two hours at 5 s
        now = T0 + tick * 5.0
        # The surplus hovers around the standard level's power (+-30 W, a 2-minute wave).
        surplus = 1391.0 + 30.0 * math.sin(tick * 2 * math.pi / 24)
        decisions.append(
            step(controller, fleet, snapshot(now, grid_reading(now, surplus, fleet), fleet))
        )
    sent = levels_sent(decisions)
    # It starts at eco and steps up at most once; it never goes back and forth.
    assert sent[0] == 800
    changes = sum(1 for a, b in zip(sent, sent[1:], strict=False) if a != b)
    assert changes <= 1, sent


def test_a_level_change_counts_against_the_dwell():
    q = avalon_q(level_dwell_s=600)
    controller = Controller(control(start_delay_s=0, min_off_s=0), [q])
    fleet = Fleet([q])
    times = {}
    for tick in range(400):
        now = T0 + tick * 5.0
        surplus = 1450.0 if tick < 150 else 2000.0  # room for standard, then for super
        step(controller, fleet, snapshot(now, grid_reading(now, surplus, fleet), fleet))
        times.setdefault(fleet.target["q"], now) if fleet.running["q"] else None
    start = times[800]
    # eco at the start, standard only once the dwell after the start passed, and super only a
    # whole dwell after that change, although the surplus allowed it earlier.
    assert times[1391] - start >= 600
    assert times[1674] - times[1391] >= 600
    assert fleet.target["q"] == 1674


def test_a_shortfall_beyond_the_stop_deficit_drops_a_level_at_once():
    q = avalon_q()
    controller = Controller(control(start_delay_s=0, min_off_s=0, stop_deficit_w=200), [q])
    fleet = Fleet([q])
    for tick in range(200):
        now = T0 + tick * 5.0
        step(controller, fleet, snapshot(now, grid_reading(now, 1800.0, fleet), fleet))
    assert fleet.target["q"] == 1674
    now = T0 + 200 * 5.0
    # 1300 W: 374 W short of super (beyond the 200 W stop deficit): eco at once, no dwell.
    step(controller, fleet, snapshot(now, grid_reading(now, 1300.0, fleet), fleet))
    assert fleet.target["q"] == 800
    # A small shortfall (within the deadband) keeps the level.
    controller2 = Controller(control(start_delay_s=0, min_off_s=0), [q])
    fleet2 = Fleet([q])
    for tick in range(200):
        now = T0 + tick * 5.0
        step(controller2, fleet2, snapshot(now, grid_reading(now, 1450.0, fleet2), fleet2))
    assert fleet2.target["q"] == 1391
    now = T0 + 200 * 5.0
    step(controller2, fleet2, snapshot(now, grid_reading(now, 1370.0, fleet2), fleet2))
    assert fleet2.target["q"] == 1391


def test_battery_floor_drops_the_level_at_once():
    q = avalon_q()
    controller = Controller(control(start_delay_s=0, min_off_s=0), [q])
    fleet = Fleet([q])
    for tick in range(200):
        now = T0 + tick * 5.0
        step(controller, fleet, snapshot(now, battery_reading(now, 1800.0, fleet, 90.0), fleet))
    assert fleet.target["q"] == 1674
    now = T0 + 1000.0
    # At the stop SoC with the battery discharging: the house first, whatever the dwell.
    step(controller, fleet, snapshot(now, battery_reading(now, 1000.0, fleet, 39.0), fleet))
    assert fleet.target["q"] < 1674 or not fleet.running["q"]


def test_fill_by_marginal_efficiency_across_continuous_and_level_miners():
    # The Q's step from eco to standard buys 31 TH/s for 591 W (0.052 TH/s per W); the
    # continuous S19 (nominal 100 TH/s at 3000 W) buys 0.033 TH/s per W.
    q = avalon_q(priority=1)
    s19 = miner("s19", min_w=1000, max_w=3000, ths=100, priority=2)
    controller = Controller(control(start_delay_s=0, min_off_s=0), [q, s19])
    fleet = Fleet([q, s19])
    for tick in range(400):
        now = T0 + tick * 5.0
        step(controller, fleet, snapshot(now, grid_reading(now, 3000.0, fleet), fleet))
    assert fleet.running["q"] and fleet.running["s19"]
    # 3000 W: the Q's eco->standard step (591 W) goes before the S19's watts above its
    # minimum; the S19 gets the rest.
    assert fleet.target["q"] == 1391
    assert 1000 <= fleet.target["s19"] <= 3000 - 1391 + 1


def test_level_steps_are_taken_whole_in_the_sharing():
    from edge_mining.control.allocation import Candidate, _water_fill
    from edge_mining.control.memory import MinerMemory

    q = avalon_q()
    memory = MinerMemory(q, 0)
    levels = memory.levels
    state = MinerState("q", T0, MinerStatus.MINING)
    candidate = Candidate(memory, state, 800, 1674, 800, levels=levels)
    assert _water_fill([candidate], 500)[id(candidate)] == 0  # 591 W step does not fit
    assert _water_fill([candidate], 600)[id(candidate)] == 591
    assert _water_fill([candidate], 2000)[id(candidate)] == 874


def test_a_level_miner_in_a_heating_zone_heats_at_its_levels():
    q = avalon_q(name="heater")
    heating = HeatingConfig.model_validate(
        {
            "enabled": True,
            "zones": [
                {
                    "name": "living",
                    "temperature_topic": "t",
                    "setpoint_c": 21,
                    "miners": ["heater"],
                    "battery_floor_pct": 30,
                    "grid_allowance_w": 1500,
                }
            ],
        }
    )
    controller = Controller(control(start_delay_s=0, min_off_s=0), [q], heating)
    fleet = Fleet([q])
    for tick in range(200):
        now = T0 + tick * 5.0
        snap = snapshot(now, grid_reading(now, 0.0, fleet), fleet, temperatures={"living": 18.0})
        step(controller, fleet, snap)
    assert fleet.running["heater"]
    assert fleet.target["heater"] in (800, 1391)  # within the zone's 1500 W budget
    for tick in range(200, 400):
        now = T0 + tick * 5.0
        snap = snapshot(now, grid_reading(now, 0.0, fleet), fleet, temperatures={"living": 23.0})
        step(controller, fleet, snap)
    assert not fleet.running["heater"]  # warm enough: no more heat wanted


def test_levels_reported_by_the_driver_are_used_when_none_are_configured():
    plain = miner("avalon", min_w=0, max_w=2000, ths=90, nominal_w=1674)
    controller = Controller(control(start_delay_s=0, min_off_s=0), [plain])
    fleet = Fleet([plain])
    reported = tuple(PowerLevel(lv["name"], lv["power_w"], lv["hashrate_ths"]) for lv in Q_LEVELS)

    def with_levels(snap):
        state = snap.miners["avalon"]
        from dataclasses import replace

        return replace(snap, miners={"avalon": replace(state, levels=reported)})

    for tick in range(200):
        now = T0 + tick * 5.0
        step(controller, fleet, with_levels(snapshot(now, grid_reading(now, 1500.0, fleet), fleet)))
    assert fleet.target["avalon"] == 1391  # a level, not 1500 W


def test_choose_rules_table():
    settings = control(power_deadband_w=50, stop_deficit_w=200)
    levels = tuple(PowerLevel(lv["name"], lv["power_w"], lv["hashrate_ths"]) for lv in Q_LEVELS)
    eco, standard, top = levels
    cases = [
        # share, available, current, since change, urgent -> expected level
        (1391.0, 1500.0, eco, 999.0, False, standard),
        (1391.0, 1420.0, eco, 999.0, False, eco),  # 29 W of room above standard: not enough
        (1391.0, 1500.0, eco, 100.0, False, eco),  # dwell
        (800.0, 1360.0, standard, 10.0, False, standard),  # 31 W short: deadband
        (800.0, 1300.0, standard, 10.0, False, standard),  # 91 W short: dwell holds
        (800.0, 1300.0, standard, 999.0, False, eco),
        (800.0, 1100.0, standard, 10.0, False, eco),  # 291 W short: beyond the stop deficit
        (800.0, 1380.0, standard, 10.0, True, eco),  # urgent
        (800.0, 2000.0, standard, 10.0, False, standard),  # fits; a better miner waits
        (800.0, 2000.0, standard, 999.0, False, eco),  # ... until the dwell has passed
        (1674.0, 5000.0, None, 0.0, False, top),
    ]
    for desired, available, current, since, urgent, expected in cases:
        step_ = choose(
            levels,
            desired_w=desired,
            available_w=available,
            current=current,
            since_change_s=since,
            dwell_s=300.0,
            control=settings,
            urgent=urgent,
        )
        assert step_.level == expected, (desired, available, current, since, step_)


def test_close_levels_use_a_proportional_hysteresis():
    settings = control(power_deadband_w=50)
    levels = (
        PowerLevel("400MHz", 13.0, 0.8),
        PowerLevel("490MHz", 15.0, 1.0),
        PowerLevel("525MHz", 16.0, 1.07),
    )
    up = choose(
        levels,
        desired_w=15.0,
        available_w=15.6,
        current=levels[0],
        since_change_s=999,
        dwell_s=0,
        control=settings,
    )
    assert up.level.name == "490MHz"  # 0.6 W of room: more than half the 1 W step above
