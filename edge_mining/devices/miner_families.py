"""The miner families Edge Mining drives, in one table: config driver name, driver class,
emulator, and how a probe recognises the family in what pyasic detected.

``devices/factory.py`` builds miner drivers from it, ``edge-mining emulate miner`` finds models
in it and ``edge-mining probe miner`` picks the family's driver with it. Everything is named
by import path and imported only when used, so a site with one family imports one driver.
(A general device registry will absorb this table; its shape is the registry's.)
"""

from __future__ import annotations

import importlib
from dataclasses import dataclass
from typing import Any


@dataclass(frozen=True, slots=True)
class MinerFamily:
    driver: str  # the config's ``driver:`` value
    label: str  # for people: help texts, --list-models, probe output
    driver_class: str  # "module:Class" of the MinerDriver
    # "module:function" returning {model name: factory(host, **options)} of its emulators
    emulator: str | None
    # pyasic classes ("module:Name") whose detection means this family
    pyasic_classes: tuple[str, ...] = ()


FAMILIES: tuple[MinerFamily, ...] = (
    MinerFamily(
        "braiins",
        "BraiinsOS / BraiinsOS+",
        "edge_mining.devices.braiins.driver:BraiinsMiner",
        "edge_mining.devices.braiins.emulator:emulated_models",
        ("pyasic.miners.backends:BOSer", "pyasic.miners.backends:BOSMiner"),
    ),
    MinerFamily(
        "avalon",
        "Canaan Avalon (stock cgminer firmware)",
        "edge_mining.devices.avalon.driver:AvalonDriver",
        "edge_mining.devices.avalon.emulator:emulated_models",
        ("pyasic.miners.backends.avalonminer:AvalonMiner",),
    ),
    MinerFamily(
        "bitaxe",
        "Bitaxe (AxeOS) and NerdQAxe (ESP-Miner)",
        "edge_mining.devices.bitaxe.driver:BitaxeDriver",
        "edge_mining.devices.bitaxe.emulator:emulated_models",
        ("pyasic.miners.backends.espminer:ESPMiner",),
    ),
    MinerFamily(
        "luxos",
        "Antminer with LuxOS",
        "edge_mining.devices.luxos.driver:LuxOSDriver",
        "edge_mining.devices.luxos.emulator:emulated_models",
        ("pyasic.miners.backends.luxminer:LUXMiner",),
    ),
    MinerFamily(
        "antminer",
        "Antminer with Bitmain's stock firmware",
        "edge_mining.devices.antminer.driver:AntminerDriver",
        "edge_mining.devices.antminer.emulator:emulated_models",
        ("pyasic.miners.backends.antminer:AntminerModern",),
    ),
    MinerFamily(
        "whatsminer",
        "MicroBT Whatsminer (btminer API 2.x)",
        "edge_mining.devices.whatsminer.driver:WhatsminerDriver",
        "edge_mining.devices.whatsminer.emulator:emulated_models",
        ("pyasic.miners.backends.btminer:BTMinerV2", "pyasic.miners.backends.btminer:BTMinerV3"),
    ),
)


def family(driver: str) -> MinerFamily:
    for entry in FAMILIES:
        if entry.driver == driver:
            return entry
    raise KeyError(driver)


def load(target: str) -> Any:
    """Import ``module:attribute`` (or a module)."""
    module_name, _, attribute = target.partition(":")
    module = importlib.import_module(module_name)
    return getattr(module, attribute) if attribute else module


def family_of(miner: Any) -> MinerFamily | None:
    """The family of a miner object pyasic detected (None: none we drive specially)."""
    for entry in FAMILIES:
        classes = tuple(load(target) for target in entry.pyasic_classes)
        if classes and isinstance(miner, classes):
            return entry
    return None
