"""Sending commands to miners: a start with a target sets the target before resuming."""

from __future__ import annotations

from conftest import JUNE_21, MINER_3KW

from edge_mining.clock import ManualClock
from edge_mining.config import MinerConfig, PlantConfig
from edge_mining.model import Action, Command, MinerStatus
from edge_mining.service.actuation import send_in_order
from edge_mining.sim.devices import SimulatedMiner
from edge_mining.sim.plant import Plant


async def test_a_start_with_a_target_applies_the_target_then_resumes():
    clock = ManualClock(JUNE_21 + 10 * 3600)
    plant = Plant(PlantConfig(), start_time=clock.now())
    miner = SimulatedMiner(MinerConfig(**MINER_3KW), plant, clock)
    assert miner.target_w == 3000  # its nominal power until told otherwise
    await send_in_order(miner, [Command("m3k", Action.START, "surplus", 1500.0)], timeout_s=5)
    assert [(action, watts) for _, action, watts in miner.commands] == [
        ("set_power", 1500.0),
        ("start", None),
    ]
    assert miner.target_w == 1500 and miner.status is MinerStatus.STARTING
    # It boots and settles at the planned power, never at its old 3 kW target.
    clock.advance(120)
    state = await miner.read()
    assert state.power_target_w == 1500 and state.power_w <= 1500


async def test_a_start_without_a_target_only_resumes():
    clock = ManualClock(JUNE_21 + 10 * 3600)
    plant = Plant(PlantConfig(), start_time=clock.now())
    config = MinerConfig(**{**MINER_3KW, "power_target": False})
    miner = SimulatedMiner(config, plant, clock)
    await send_in_order(miner, [Command("m3k", Action.START, "surplus")], timeout_s=5)
    assert [action for _, action, _ in miner.commands] == ["start"]
