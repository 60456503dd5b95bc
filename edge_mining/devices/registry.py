"""Every device Edge Mining drives, one line each: what its package offers, by import path.

A line says which kind of device it is (an energy source, a miner, a solar forecast), the value
that picks it in the site configuration (``energy_source.type``, ``miners[].driver``,
``forecast.type``), its driver or source class and its configuration model, how the class is
constructed, and, where it has them, its ``edge-mining probe`` and ``edge-mining emulate``
subcommands, its emulated miner models and the pyasic classes that mean its family.

``devices/factory.py`` builds the site's drivers from it, ``cli.py`` adds the probe and emulate
subcommands from it, ``emulate miner`` finds its models in it and ``probe miner`` picks a
family's driver with it. Everything is named by import path and imported only when used: a
site with one serial inverter imports one driver, and ``edge-mining --help`` imports no protocol
stack. A new device is one package under ``devices/`` and one line here (and its configuration
model in ``config.py``); ``tests/test_registry.py`` checks that the two agree.
"""

from __future__ import annotations

import importlib
from enum import StrEnum
from typing import Any, NamedTuple


class Kind(StrEnum):
    """What a device is to the daemon, and the configuration field that names it."""

    ENERGY_SOURCE = "energy_source"  # energy_source.type
    MINER = "miner"  # miners[].driver
    FORECAST = "forecast"  # forecast.type


# NamedTuples rather than dataclasses: every command line (``--help`` too) imports this module,
# and dataclasses would add the import of ``inspect`` to each.


class Command(NamedTuple):
    """An ``edge-mining probe <name>`` or ``edge-mining emulate <name>`` subcommand."""

    name: str
    help: str
    main: str  # "module:function" taking the parsed arguments, returning the exit code
    # "module:function" adding the subcommand's arguments to its parser; a light module (the
    # parser is built for every command, ``--help`` included), never the one ``main`` is in.
    arguments: str


class Device(NamedTuple):
    kind: Kind
    name: str  # the configuration's value that picks this device
    label: str  # for people: help texts, --list-models, probe output
    driver: str  # "module:Class" of the EnergySource, MinerDriver or ForecastSource
    config: str  # "module:Model" of its configuration section in the site model
    # The class's positional arguments, in order, from: "config" (its own section of the
    # site), "site", "homeassistant" and "mqtt" (the site's connection settings), "plant" (the
    # simulated plant the site's simulated devices share). Energy sources and miners also get
    # ``clock=`` (the daemon's time); forecast sources keep the wall clock of their remote API,
    # except a simulated one (it takes the plant), which lives in the plant's time.
    arguments: tuple[str, ...] = ("config",)
    probe: Command | None = None
    emulator: Command | None = None
    # Miners: "module:function" returning {model name: factory(host, *, clock, password,
    # faults)} of its emulated models, for ``edge-mining emulate miner --model``.
    emulated_models: str | None = None
    # Miners: pyasic classes ("module:Name") whose detection means this family.
    pyasic_classes: tuple[str, ...] = ()


# The subcommands every miner family shares: the probe detects the family, the emulator serves
# any family's models.
MINER_PROBE = Command(
    "miner",
    "a miner of any supported family (BraiinsOS, Avalon, other pyasic)",
    "edge_mining.devices.miner_probe:main",
    "edge_mining.devices.miner_commands:probe_arguments",
)
MINER_EMULATOR = Command(
    "miner",
    "miner(s) of any family on loopback (prints MINER <host> each)",
    "edge_mining.devices.emulation.cli:main",
    "edge_mining.devices.miner_commands:emulator_arguments",
)


def _miner(
    name: str, label: str, package: str, driver: str, pyasic_classes: tuple[str, ...]
) -> Device:
    """A miner family of its own package: driver.py, emulator.py (``emulated_models``)."""
    return Device(
        Kind.MINER,
        name,
        label,
        f"edge_mining.devices.{package}.driver:{driver}",
        "edge_mining.config:MinerConfig",
        probe=MINER_PROBE,
        emulator=MINER_EMULATOR,
        emulated_models=f"edge_mining.devices.{package}.emulator:emulated_models",
        pyasic_classes=pyasic_classes,
    )


DEVICES: tuple[Device, ...] = (
    # ----------------------------------------------------------------------- energy sources
    Device(
        Kind.ENERGY_SOURCE,
        "voltronic",
        "Voltronic/Axpert PI30 inverter",
        "edge_mining.devices.voltronic.source:VoltronicSource",
        "edge_mining.config:VoltronicSourceConfig",
        probe=Command(
            "inverter",
            "a Voltronic/Axpert PI30 inverter on a serial port",
            "edge_mining.devices.voltronic.probe:main",
            "edge_mining.devices.voltronic.commands:probe_arguments",
        ),
        emulator=Command(
            "inverter",
            "Voltronic/Axpert PI30 on a pseudo-terminal (prints PTY <path>)",
            "edge_mining.devices.voltronic.emulator:main",
            "edge_mining.devices.voltronic.commands:emulator_arguments",
        ),
    ),
    Device(
        Kind.ENERGY_SOURCE,
        "solaredge",
        "SolarEdge inverter (SunSpec over Modbus TCP)",
        "edge_mining.devices.solaredge.source:SolarEdgeSource",
        "edge_mining.config:SolarEdgeSourceConfig",
        probe=Command(
            "solaredge",
            "a SolarEdge inverter over Modbus TCP",
            "edge_mining.devices.solaredge.probe:main",
            "edge_mining.devices.solaredge.commands:probe_arguments",
        ),
        emulator=Command(
            "solaredge",
            "SolarEdge SunSpec over Modbus TCP (prints MODBUS <host>:<port>)",
            "edge_mining.devices.solaredge.emulator:main",
            "edge_mining.devices.solaredge.commands:emulator_arguments",
        ),
    ),
    Device(
        Kind.ENERGY_SOURCE,
        "homeassistant",
        "Home Assistant entities",
        "edge_mining.devices.homeassistant.source:HomeAssistantEnergySource",
        "edge_mining.config:HomeAssistantSourceConfig",
        arguments=("config", "homeassistant"),
    ),
    Device(
        Kind.ENERGY_SOURCE,
        "mqtt",
        "MQTT topics",
        "edge_mining.devices.mqtt.source:MqttEnergySource",
        "edge_mining.config:MqttSourceConfig",
        arguments=("config", "mqtt"),
    ),
    Device(
        Kind.ENERGY_SOURCE,
        "simulated",
        "the simulated plant",
        "edge_mining.sim.devices:SimulatedEnergySource",
        "edge_mining.config:SimulatedSourceConfig",
        arguments=("plant",),
    ),
    # ------------------------------------------------------------------------------ miners
    _miner(
        "braiins",
        "BraiinsOS / BraiinsOS+",
        "braiins",
        "BraiinsMiner",
        ("pyasic.miners.backends:BOSer", "pyasic.miners.backends:BOSMiner"),
    ),
    _miner(
        "avalon",
        "Canaan Avalon (stock cgminer firmware)",
        "avalon",
        "AvalonDriver",
        ("pyasic.miners.backends.avalonminer:AvalonMiner",),
    ),
    _miner(
        "bitaxe",
        "Bitaxe (AxeOS) and NerdQAxe (ESP-Miner)",
        "bitaxe",
        "BitaxeDriver",
        ("pyasic.miners.backends.espminer:ESPMiner",),
    ),
    _miner(
        "luxos",
        "Antminer with LuxOS",
        "luxos",
        "LuxOSDriver",
        ("pyasic.miners.backends.luxminer:LUXMiner",),
    ),
    _miner(
        "antminer",
        "Antminer with Bitmain's stock firmware",
        "antminer",
        "AntminerDriver",
        ("pyasic.miners.backends.antminer:AntminerModern",),
    ),
    _miner(
        "whatsminer",
        "MicroBT Whatsminer (btminer API 2.x)",
        "whatsminer",
        "WhatsminerDriver",
        ("pyasic.miners.backends.btminer:BTMinerV2", "pyasic.miners.backends.btminer:BTMinerV3"),
    ),
    Device(
        Kind.MINER,
        "pyasic",
        "any other miner pyasic knows (through the BraiinsOS driver's generic backend)",
        "edge_mining.devices.braiins.driver:BraiinsMiner",
        "edge_mining.config:MinerConfig",
        probe=MINER_PROBE,
    ),
    Device(
        Kind.MINER,
        "smartplug",
        "a miner behind a smart plug (Home Assistant or MQTT)",
        "edge_mining.devices.smartplug.driver:SmartPlugMiner",
        "edge_mining.config:MinerConfig",
        arguments=("config", "site"),
    ),
    Device(
        Kind.MINER,
        "simulated",
        "a simulated miner on the simulated plant",
        "edge_mining.sim.devices:SimulatedMiner",
        "edge_mining.config:MinerConfig",
        arguments=("config", "plant"),
    ),
    # ---------------------------------------------------------------------------- forecasts
    Device(
        Kind.FORECAST,
        "forecast_solar",
        "Forecast.Solar",
        "edge_mining.devices.forecast_solar.source:ForecastSolarSource",
        "edge_mining.config:ForecastConfig",
    ),
    Device(
        Kind.FORECAST,
        "homeassistant",
        "the Forecast.Solar or Solcast integrations in Home Assistant",
        "edge_mining.devices.homeassistant.forecast:HomeAssistantForecastSource",
        "edge_mining.config:ForecastConfig",
        arguments=("config", "homeassistant"),
    ),
    Device(
        Kind.FORECAST,
        "simulated",
        "the simulated plant's own PV with a day-ahead forecast's error (demo only)",
        "edge_mining.sim.forecast:SimulatedForecast",
        "edge_mining.config:ForecastConfig",
        arguments=("config", "plant"),
    ),
)


def devices(kind: Kind) -> tuple[Device, ...]:
    """The devices of one kind, in the registry's order."""
    return tuple(entry for entry in DEVICES if entry.kind == kind)


def device(kind: Kind, name: str) -> Device:
    """The device of ``kind`` the configuration value ``name`` picks (KeyError: none)."""
    for entry in DEVICES:
        if entry.kind == kind and entry.name == name:
            return entry
    raise KeyError(f"{kind.value} {name!r}")


def miner_families() -> tuple[Device, ...]:
    """The miner families ``probe miner`` recognises: the miners pyasic's detection maps to
    (by class, or the driver's own ``recognises(host)`` when pyasic finds nothing)."""
    return tuple(entry for entry in devices(Kind.MINER) if entry.pyasic_classes)


def _commands(which: str) -> tuple[Command, ...]:
    found: dict[str, Command] = {}
    for entry in DEVICES:
        command: Command | None = getattr(entry, which)
        if command is None:
            continue
        if found.setdefault(command.name, command) != command:
            raise ValueError(f"two different '{command.name}' {which} subcommands")
    return tuple(sorted(found.values(), key=lambda c: c.name))


def probe_commands() -> tuple[Command, ...]:
    """``edge-mining probe``'s subcommands, by name."""
    return _commands("probe")


def emulator_commands() -> tuple[Command, ...]:
    """``edge-mining emulate``'s subcommands, by name."""
    return _commands("emulator")


def load(target: str) -> Any:
    """Import ``module:attribute`` (or a module) named in the registry."""
    module_name, _, attribute = target.partition(":")
    module = importlib.import_module(module_name)
    return getattr(module, attribute) if attribute else module


def family_of(miner: Any) -> Device | None:
    """The family of a miner object pyasic detected (None: none we drive specially)."""
    for entry in miner_families():
        classes = tuple(load(target) for target in entry.pyasic_classes)
        if classes and isinstance(miner, classes):
            return entry
    return None
