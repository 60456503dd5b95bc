"""Properties of the controller over random sites, miners and histories (hypothesis).

- No command outside a miner's limits (and no power target for an on/off miner).
- No start inside a miner's minimum off-time (counted from any stop, commanded or not).
- Whenever a tick adds load (a start or a raised target), the miners' total commanded power is
  within the estimated available power plus the battery allowance.
"""

from __future__ import annotations

from dataclasses import dataclass

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from test_controller_support import T0, Fleet, snapshot

from edge_mining.config import ControlConfig, MinerConfig
from edge_mining.control import Controller
from edge_mining.model import Action, EnergyReading, MinerStatus


@st.composite
def miner_configs(draw: st.DrawFn, index: int) -> MinerConfig:
    power_target = draw(st.booleans())
    low = draw(st.floats(100, 2000))
    span = draw(st.floats(1, 3000))
    # An on/off miner draws its nominal power; its limits are that power.
    high = low + span if power_target else low
    nominal = low + span / 2 if power_target else low
    return MinerConfig(
        name=f"m{index}",
        min_power_w=low,
        max_power_w=high,
        nominal_power_w=nominal,
        nominal_hashrate_ths=draw(st.floats(10, 300)),
        power_target=power_target,
        priority=draw(st.none() | st.integers(0, 5)),
    )


@st.composite
def control_configs(draw: st.DrawFn) -> ControlConfig:
    return ControlConfig(
        start_surplus_w=draw(st.floats(0, 500)),
        stop_deficit_w=draw(st.floats(0, 500)),
        start_delay_s=draw(st.sampled_from([0, 10, 60])),
        stop_delay_s=draw(st.sampled_from([0, 10, 60])),
        min_on_s=draw(st.sampled_from([0, 30, 300])),
        min_off_s=draw(st.sampled_from([0, 30, 300])),
        max_starts_per_day=draw(st.integers(1, 10)),
        battery_allowance_w=draw(st.sampled_from([0.0, 500.0, 3000.0])),
        margin_w=draw(st.sampled_from([0.0, 100.0])),
        power_change_interval_s=draw(st.sampled_from([0, 10, 30])),
        power_step_w=draw(st.floats(50, 1000)),
        probe_step_w=draw(st.floats(50, 500)),
        safe_action=draw(st.sampled_from(["pause", "min_power"])),
        site=draw(st.sampled_from(["auto", "off_grid"])),
    )


@dataclass(frozen=True)
class Tick:
    dt: float
    surplus_w: float
    soc: float
    stale: bool
    glitch: int  # -1 none; else index of a miner flipped or made unreachable from outside
    unreachable: bool


ticks = st.builds(
    Tick,
    dt=st.sampled_from([1.0, 5.0, 5.0, 5.0, 30.0, 120.0]),
    surplus_w=st.floats(-2000, 12000),
    soc=st.floats(0, 100),
    stale=st.sampled_from([False, False, False, True]),
    glitch=st.integers(-8, 3),
    unreachable=st.booleans(),
)


@st.composite
def scenarios(draw: st.DrawFn) -> tuple[ControlConfig, list[MinerConfig], str, list[Tick]]:
    count = draw(st.integers(1, 4))
    miners = [draw(miner_configs(i)) for i in range(count)]
    site = draw(st.sampled_from(["grid", "battery", "hybrid", "full_battery"]))
    return draw(control_configs()), miners, site, draw(st.lists(ticks, min_size=5, max_size=80))


def reading(now: float, site: str, tick: Tick, fleet: Fleet) -> EnergyReading:
    draw = fleet.total_draw_w
    spare = tick.surplus_w - draw
    stamp = now - 120.0 if tick.stale else now
    if site == "grid":
        return EnergyReading(timestamp=stamp, grid_power_w=-spare)
    if site == "battery":
        return EnergyReading(timestamp=stamp, battery_soc_pct=tick.soc, battery_power_w=spare)
    if site == "full_battery":  # PV curtailed to what is used; deficits from the battery
        return EnergyReading(
            timestamp=stamp, battery_soc_pct=max(tick.soc, 98.0), battery_power_w=min(0.0, spare)
        )
    charge = max(-3000.0, min(3000.0, spare))
    return EnergyReading(
        timestamp=stamp,
        battery_soc_pct=tick.soc,
        battery_power_w=charge,
        grid_power_w=-(spare - charge),
    )


@settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(scenarios())
def test_controller_properties(scenario) -> None:
    control, miners, site, history = scenario
    limits = {m.name: m for m in miners}
    controller = Controller(control, miners)
    fleet = Fleet(miners)
    last_stop: dict[str, float] = {}
    seen_running: set[str] = set()
    now = T0
    for tick in history:
        now += tick.dt
        # The outside world: a miner paused by hand (once the controller has seen it run),
        # or unreachable for a while.
        if 0 <= tick.glitch < len(miners):
            name = miners[tick.glitch].name
            if tick.unreachable:
                fleet.status_override[name] = MinerStatus.UNREACHABLE
            elif fleet.running[name] and name in seen_running:
                fleet.running[name] = False
                last_stop[name] = now
        elif tick.glitch < -4:
            fleet.status_override.clear()
        snap = snapshot(now, reading(now, site, tick, fleet), fleet)
        seen_running = {n for n, state in snap.miners.items() if state.status.is_running}
        decision = controller.tick(snap)

        before = {m.name: fleet.draw_w(m.name) for m in miners}
        adds_load = False
        for command in decision.commands:
            config = limits[command.miner]
            if command.power_w is not None:
                assert config.power_target, command
                assert config.min_power_w - 1e-9 <= command.power_w <= config.max_power_w + 1e-9
            if command.action is Action.START:
                assert now - last_stop.get(command.miner, float("-inf")) >= control.min_off_s, (
                    command,
                    decision.miner_reasons,
                )
                adds_load = True
            if command.action is Action.SET_POWER and command.power_w > before[command.miner]:
                adds_load = True
            if command.action is Action.STOP:
                assert command.miner not in fleet.status_override
        for command in decision.commands:
            if command.action is Action.STOP and fleet.running[command.miner]:
                last_stop[command.miner] = now
        fleet.apply(decision.commands)
        if adds_load:
            assert decision.surplus_w is not None  # never on stale or missing data
            total = fleet.total_draw_w
            assert total <= decision.available_power_w + control.battery_allowance_w + 1e-6, (
                total,
                decision.reason,
                decision.miner_reasons,
            )
