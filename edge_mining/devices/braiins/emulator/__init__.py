"""A BraiinsOS miner emulator: the real protocols on loopback, realistic dynamics, faults."""

from functools import partial
from typing import Any

from edge_mining.devices.braiins.emulator.machine import (
    MODELS,
    Faults,
    MinerMachine,
    MinerSpec,
    find_model,
)
from edge_mining.devices.braiins.emulator.server import EmulatedMiner, EmulatorFleet, loopback_hosts


def emulated_models() -> dict[str, Any]:
    """``edge-mining emulate miner --model`` names of BraiinsOS miners, and how to make one."""
    return {spec.key: partial(EmulatedMiner, model=spec.key) for spec in MODELS.values()}


__all__ = [
    "MODELS",
    "EmulatedMiner",
    "EmulatorFleet",
    "Faults",
    "MinerMachine",
    "MinerSpec",
    "emulated_models",
    "find_model",
    "loopback_hosts",
]
