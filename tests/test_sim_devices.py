"""Simulated miner and energy source: Protocol conformance, dynamics, draw on the plant."""

from __future__ import annotations

import pytest

from edge_mining.clock import ManualClock
from edge_mining.config import MinerConfig, PlantConfig
from edge_mining.devices.base import (
    CommandRejected,
    DeviceUnavailable,
    EnergySource,
    MinerDriver,
)
from edge_mining.model import MinerStatus
from edge_mining.sim.devices import STANDBY_W, SimulatedEnergySource, SimulatedMiner
from edge_mining.sim.plant import Plant


def make(power_target: bool = True):
    clock = ManualClock(1_750_000_000.0)
    plant = Plant(
        PlantConfig(battery_kwh=0.0),
        start_time=clock.now(),
        pv_profile=lambda t: 4000.0,
        load_profile=lambda t: 500.0,
    )
    config = MinerConfig(
        name="m1",
        min_power_w=1000.0 if power_target else 0.0,
        max_power_w=3300.0,
        nominal_hashrate_ths=100.0,
        nominal_power_w=3000.0,
        power_target=power_target,
    )
    return clock, plant, SimulatedMiner(config, plant, clock)


async def test_protocols_are_satisfied():
    clock, plant, miner = make()
    assert isinstance(miner, MinerDriver)
    assert isinstance(SimulatedEnergySource(plant, clock), EnergySource)


async def test_start_goes_through_starting_to_mining_and_settles():
    clock, plant, miner = make()
    state = await miner.read()
    assert state.status is MinerStatus.PAUSED
    assert state.power_w == STANDBY_W
    assert (state.target_min_w, state.target_max_w) == (1000.0, 3300.0)

    await miner.start()
    state = await miner.read()
    assert state.status is MinerStatus.STARTING
    assert state.hashrate_ths == 0.0
    clock.advance(10)
    assert (await miner.read()).status is MinerStatus.STARTING
    clock.advance(15)  # past the 20 s boot
    state = await miner.read()
    assert state.status is MinerStatus.MINING
    assert state.hashrate_ths > 0
    assert state.power_w < 0.9 * 3000.0  # still settling
    clock.advance(30)
    state = await miner.read()
    assert state.power_w == pytest.approx(3000.0, rel=0.06)
    assert plant.miner_draws["m1"] == pytest.approx(state.power_w)
    assert state.hashrate_ths == pytest.approx(100.0, rel=0.06)
    assert miner.starts == 1


async def test_power_target_is_clamped_and_applied_without_restart():
    clock, plant, miner = make()
    await miner.start()
    clock.advance(120)
    await miner.read()
    assert await miner.set_power_target(1500.0) == 1500.0
    assert await miner.set_power_target(10_000.0) == 3300.0
    assert await miner.set_power_target(10.0) == 1000.0
    clock.advance(120)
    state = await miner.read()
    assert state.status is MinerStatus.MINING  # never restarted
    assert state.power_w == pytest.approx(1000.0, rel=0.01)
    assert state.efficiency_j_per_th < 30.0  # underclocked: better J/TH than nominal
    with pytest.raises(CommandRejected):
        await miner.set_power_target(float("nan"))


async def test_stop_goes_through_stopping_to_paused():
    clock, plant, miner = make()
    await miner.start()
    clock.advance(60)
    await miner.read()
    await miner.stop()
    assert (await miner.read()).status is MinerStatus.STOPPING
    clock.advance(6)
    state = await miner.read()
    assert state.status is MinerStatus.PAUSED
    assert state.power_w == STANDBY_W
    assert plant.miner_draws["m1"] == STANDBY_W


async def test_on_off_miner_rejects_power_targets():
    clock, plant, miner = make(power_target=False)
    state = await miner.read()
    assert state.target_min_w is None and state.power_target_w is None
    with pytest.raises(CommandRejected):
        await miner.set_power_target(2000.0)


async def test_unreachable_miner_reports_status_and_refuses_commands():
    clock, plant, miner = make()
    miner.unreachable = True
    assert (await miner.read()).status is MinerStatus.UNREACHABLE
    with pytest.raises(DeviceUnavailable):
        await miner.start()


async def test_energy_source_steps_the_plant_and_sees_the_miner():
    clock, plant, miner = make()
    source = SimulatedEnergySource(plant, clock)
    first = await source.read()
    assert first.grid_power_w == pytest.approx(-(4000.0 - 500.0 - STANDBY_W))
    await miner.start()
    clock.advance(120)
    await miner.read()
    reading = await source.read()
    assert reading.timestamp == clock.now()
    assert reading.load_power_w == pytest.approx(500.0 + miner.power_w)
    assert reading.grid_power_w == pytest.approx(-(3500.0 - miner.power_w))
    source.fail_reads = True
    with pytest.raises(DeviceUnavailable):
        await source.read()
