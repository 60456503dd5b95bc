"""Closed loop: the real controller drives simulated miners on the plant simulator, and what it
does changes what it sees next.

The acceptance case: a sunny day, a 10 kWh battery, one 3 kW miner: the battery never goes
below the stop SoC, the miner runs through most of the surplus hours, at most 4 starts.
Driven directly in simulated time (one tick every 10 s, no event loop timing involved), and
once through the daemon with a manual clock.
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass, field
from typing import Any

import pytest
from conftest import JUNE_21, make_site

from edge_mining.clock import ManualClock
from edge_mining.config import SiteConfig
from edge_mining.control import Controller
from edge_mining.devices.factory import build_devices
from edge_mining.model import Action, MinerStatus, Snapshot
from edge_mining.service import Daemon, SiteState
from edge_mining.sim.devices import SimulatedEnergySource, SimulatedMiner

TICK_S = 10.0
MINER_MIN_W = 1000.0


def day_site(tmp_path: Any, **plant: Any) -> SiteConfig:
    return make_site(
        tmp_path / "state",
        energy_source={
            "type": "simulated",
            "plant": {"pv_kwp": 5.0, "battery_kwh": 10.0, "battery_initial_soc_pct": 50.0} | plant,
        },
    )


@dataclass
class DayLog:
    soc: list[float] = field(default_factory=list)
    surplus_ticks: int = 0
    mining_in_surplus_ticks: int = 0
    mining_ticks: int = 0
    min_soc_while_mining: float = 100.0
    grid_import_while_mining_wh: float = 0.0
    stop_soc: float | None = None
    reasons: set[str] = field(default_factory=set)


async def run_day(site: SiteConfig, start: float, end: float) -> tuple[DayLog, Any, Any]:
    """Tick the controller every TICK_S from ``start`` to ``end`` over the simulated site."""
    clock = ManualClock(start)
    devices = build_devices(site, clock=clock)
    plant = devices.plant
    energy: SimulatedEnergySource = devices.energy  # type: ignore[assignment]
    (miner,) = devices.miners.values()
    assert isinstance(miner, SimulatedMiner)
    controller = Controller(site.control, site.miners, site.heating, site.economics)
    log = DayLog()
    while clock.now() < end:
        clock.advance(TICK_S)
        state = await miner.read()  # advances the miner, puts its draw on the plant
        before_import = plant.state.grid_import_wh
        reading = await energy.read()  # steps the plant to now
        snapshot = Snapshot(time=clock.now(), energy=reading, miners={miner.name: state})
        decision = controller.tick(snapshot)
        for command in decision.commands:
            log.reasons.add(command.reason)
            if command.action is Action.START:
                await miner.start()
            elif command.action is Action.STOP:
                await miner.stop()
            else:
                await miner.set_power_target(command.power_w)
        s = plant.state
        log.soc.append(s.battery_soc_pct)
        log.stop_soc = decision.stop_soc_pct
        surplus = s.pv_w - s.house_load_w >= MINER_MIN_W
        running = state.status is MinerStatus.MINING
        log.surplus_ticks += surplus
        log.mining_ticks += running
        log.mining_in_surplus_ticks += surplus and running
        if running:
            log.min_soc_while_mining = min(log.min_soc_while_mining, s.battery_soc_pct)
            log.grid_import_while_mining_wh += s.grid_import_wh - before_import
    return log, plant, miner


@pytest.mark.parametrize("grid_connected", [True, False], ids=["grid-tied", "off-grid"])
async def test_sunny_day_one_3kw_miner(tmp_path, grid_connected):
    site = day_site(tmp_path, grid_connected=grid_connected)
    # From before sunrise to midnight: the evening drains the battery with the house load.
    log, plant, miner = await run_day(site, JUNE_21 + 4 * 3600, JUNE_21 + 24 * 3600)
    stop_soc = site.control.stop_soc_pct
    assert log.stop_soc == stop_soc  # no forecast: the configured stop SoC
    assert min(log.soc) >= stop_soc, f"battery went to {min(log.soc):.1f} %"
    assert log.min_soc_while_mining >= stop_soc
    share = log.mining_in_surplus_ticks / log.surplus_ticks
    assert log.surplus_ticks * TICK_S / 3600 > 8  # a sunny day: hours of surplus
    assert share >= 0.7, f"mined through only {share:.0%} of the surplus hours"
    assert 1 <= miner.starts <= 4
    assert abs(plant.state.balance_error_wh) < 1e-6
    # The miner lives on surplus: it does not buy energy from the grid or drain the battery.
    assert log.grid_import_while_mining_wh < 150.0
    # Mining used a large part of what would otherwise be exported or curtailed.
    wasted = plant.state.grid_export_wh + plant.state.curtailed_wh
    assert plant.state.miners_wh > wasted
    hours = log.surplus_ticks * TICK_S / 3600
    print(
        f"\n{'grid-tied' if grid_connected else 'off-grid'}: mined "
        f"{plant.state.miners_wh / 1000:.1f} kWh, {share:.0%} of {hours:.1f} surplus hours, "
        f"{miner.starts} start(s), min SoC {min(log.soc):.1f} %, "
        f"export+curtailed {wasted / 1000:.1f} kWh"
    )


async def test_cloudy_day_does_not_flap(tmp_path):
    site = day_site(tmp_path, pv_cloud_noise=0.6, seed=3)
    log, plant, miner = await run_day(site, JUNE_21 + 4 * 3600, JUNE_21 + 24 * 3600)
    assert min(log.soc) >= site.control.stop_soc_pct
    assert miner.starts <= site.control.max_starts_per_day
    assert miner.starts <= 4
    assert log.mining_ticks > 0


async def test_closed_loop_through_the_daemon(tmp_path):
    """Two simulated midday hours through the real daemon (pollers, tick, commands)."""
    site = day_site(tmp_path, battery_initial_soc_pct=85.0)
    start = JUNE_21 + 10 * 3600
    clock = ManualClock(start)
    devices = build_devices(site, clock=clock)
    daemon = Daemon(site, energy=devices.energy, miners=devices.miners, clock=clock)
    socs: list[float] = []
    stop = asyncio.Event()

    def watch(state: SiteState) -> None:
        socs.append(state.energy.battery_soc_pct)
        if state.time >= start + 2 * 3600:
            stop.set()

    daemon.add_listener(watch)
    await asyncio.wait_for(daemon.run(stop), timeout=60)
    plant = devices.plant
    miner = devices.miners["m3k"]
    assert min(socs) >= site.control.stop_soc_pct
    assert 1 <= miner.starts <= 2
    assert miner.status in (MinerStatus.STOPPING, MinerStatus.PAUSED)  # shutdown: pause
    counters = daemon.state.counters
    # The daemon's counters agree with the plant's physics (left-rectangle integration).
    assert counters.mined_kwh * 1000 == pytest.approx(plant.state.miners_wh, rel=0.05)
    assert counters.pv_kwh * 1000 == pytest.approx(
        plant.state.pv_wh - plant.state.curtailed_wh, rel=0.05
    )
    assert counters.mined_kwh > 2.0  # more than an hour at its 3 kW
    assert counters.earnings > 0
