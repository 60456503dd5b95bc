"""The device registry: every line points at real code, agrees with the site model and the
add-on's schema, and drives the factory and the command line."""

from __future__ import annotations

import asyncio
import inspect
import typing
from pathlib import Path
from typing import Any

import pytest
import yaml

from edge_mining.cli import build_parser
from edge_mining.config import (
    EnergySourceConfig,
    ForecastConfig,
    MinerConfig,
    SiteConfig,
)
from edge_mining.devices import factory, registry
from edge_mining.devices.registry import DEVICES, Device, Kind, load

ROOT = Path(__file__).resolve().parent.parent
ADDON_SCHEMA = yaml.safe_load((ROOT / "config.yaml").read_text())["schema"]
ARGUMENT_NAMES = {"config", "site", "homeassistant", "mqtt", "plant"}


def _names(kind: Kind) -> list[str]:
    return [entry.name for entry in registry.devices(kind)]


def _literal(model: Any, field: str) -> set[str]:
    return set(typing.get_args(model.model_fields[field].annotation))


def _addon_choices(schema: str) -> set[str]:
    assert schema.startswith("list(") and schema.endswith(")"), schema
    return set(schema[len("list(") : -1].split("|"))


def test_each_kind_names_each_device_once():
    for kind in Kind:
        names = _names(kind)
        assert names and len(names) == len(set(names)), kind


@pytest.mark.parametrize("entry", DEVICES, ids=lambda e: f"{e.kind.value}:{e.name}")
def test_every_line_points_at_code_that_exists(entry: Device):
    driver = load(entry.driver)
    assert inspect.isclass(driver)
    assert inspect.isclass(load(entry.config))
    for command in (entry.probe, entry.emulator):
        if command is not None:
            assert callable(load(command.main))
            assert callable(load(command.arguments))
    if entry.emulated_models is not None:
        models = load(entry.emulated_models)()
        assert models and all(callable(make) for make in models.values())
    for target in entry.pyasic_classes:
        assert inspect.isclass(load(target))


@pytest.mark.parametrize("entry", DEVICES, ids=lambda e: f"{e.kind.value}:{e.name}")
def test_the_driver_takes_the_arguments_its_line_names(entry: Device):
    assert set(entry.arguments) <= ARGUMENT_NAMES
    parameters = _init_parameters(load(entry.driver))
    positional = [p for p in parameters if p.kind in (p.POSITIONAL_ONLY, p.POSITIONAL_OR_KEYWORD)]
    required = [p for p in positional if p.default is p.empty and p.name != "clock"]
    assert len(required) <= len(entry.arguments) <= len(positional)
    if entry.kind is not Kind.FORECAST:
        assert "clock" in {p.name for p in parameters}, "energy sources and miners get clock="


def _init_parameters(cls: type) -> list[inspect.Parameter]:
    """The constructor's parameters, through subclasses that pass ``*args, **kwargs`` on."""
    for klass in cls.__mro__:
        if "__init__" not in vars(klass):
            continue
        parameters = list(inspect.signature(klass.__init__).parameters.values())[1:]
        if not any(p.kind is p.VAR_POSITIONAL for p in parameters):
            return parameters
    raise AssertionError(f"{cls} has no constructor of its own")


def test_the_site_model_admits_exactly_the_registered_devices():
    sources = typing.get_args(typing.get_args(EnergySourceConfig)[0])
    by_type = {next(iter(_literal(model, "type"))): model for model in sources}
    assert sorted(by_type) == sorted(_names(Kind.ENERGY_SOURCE))
    for entry in registry.devices(Kind.ENERGY_SOURCE):
        assert load(entry.config) is by_type[entry.name]
    assert _literal(MinerConfig, "driver") == set(_names(Kind.MINER))
    assert _literal(ForecastConfig, "type") == {"none", *_names(Kind.FORECAST)}
    for entry in (*registry.devices(Kind.MINER), *registry.devices(Kind.FORECAST)):
        assert load(entry.config) in (MinerConfig, ForecastConfig)


def test_the_addon_schema_offers_exactly_the_registered_devices():
    assert _addon_choices(ADDON_SCHEMA["energy_source"]["type"]) == set(_names(Kind.ENERGY_SOURCE))
    assert _addon_choices(ADDON_SCHEMA["miners"][0]["driver"]) == set(_names(Kind.MINER))
    assert _addon_choices(ADDON_SCHEMA["forecast"]["type"]) == {"none", *_names(Kind.FORECAST)}


def test_probe_and_emulate_offer_the_registered_commands():
    parser = build_parser()
    commands = {
        name: action
        for action in parser._subparsers._group_actions  # type: ignore[union-attr]
        for name, action in action.choices.items()
    }

    def subcommands(name: str) -> list[str]:
        sub = commands[name]._subparsers._group_actions[0]
        return list(sub.choices)

    assert subcommands("probe") == [c.name for c in registry.probe_commands()]
    assert subcommands("emulate") == [c.name for c in registry.emulator_commands()]
    assert subcommands("probe") == ["inverter", "miner", "solaredge"]
    assert subcommands("emulate") == ["inverter", "miner", "solaredge"]


def test_a_command_name_means_one_command():
    clash = registry.Command("inverter", "another", "x:main", "x:arguments")
    extra = Device(Kind.ENERGY_SOURCE, "other", "other", "x:Source", "x:Config", probe=clash)
    original = registry.DEVICES
    try:
        registry.DEVICES = (*original, extra)
        with pytest.raises(ValueError, match="two different 'inverter' probe"):
            registry.probe_commands()
    finally:
        registry.DEVICES = original


def test_the_factory_builds_the_class_the_registry_names(tmp_path):
    site = SiteConfig.model_validate(
        {
            "state_dir": str(tmp_path),
            "energy_source": {"type": "solaredge", "host": "127.0.0.1"},
            "miners": [
                {
                    "name": name,
                    "driver": name,
                    "host": "127.0.0.1",
                    "min_power_w": 0,
                    "max_power_w": 1000,
                    "nominal_hashrate_ths": 1,
                    "nominal_power_w": 1000,
                    **({"command_topic": "cmnd/plug/POWER"} if name == "smartplug" else {}),
                }
                for name in _names(Kind.MINER)
            ],
            "forecast": {"type": "homeassistant", "tomorrow_entity": "sensor.tomorrow"},
            "homeassistant": {"url": "http://127.0.0.1:8123", "token": "t"},
            "mqtt": {"host": "127.0.0.1"},
        }
    )
    assert factory.needs_plant(site)  # a simulated miner is among them
    devices = factory.build_devices(site, clock=_Clock())
    try:
        assert type(devices.energy) is load(registry.device(Kind.ENERGY_SOURCE, "solaredge").driver)
        for name, driver in devices.miners.items():
            assert type(driver) is load(registry.device(Kind.MINER, name).driver)
        assert type(devices.forecast) is load(
            registry.device(Kind.FORECAST, "homeassistant").driver
        )
    finally:
        asyncio.run(devices.close())


class _Clock:
    def now(self) -> float:
        return 1_750_000_000.0
