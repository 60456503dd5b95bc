"""A BraiinsOS miner emulator: the real protocols on loopback, realistic dynamics, faults."""

from edge_mining.sim.braiins.machine import MODELS, Faults, MinerMachine, MinerSpec, find_model
from edge_mining.sim.braiins.server import EmulatedMiner, EmulatorFleet, loopback_hosts

__all__ = [
    "MODELS",
    "EmulatedMiner",
    "EmulatorFleet",
    "Faults",
    "MinerMachine",
    "MinerSpec",
    "find_model",
    "loopback_hosts",
]
