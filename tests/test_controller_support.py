"""Shared fakes for the controller tests: miners that obey, sites described by their surplus.

Not a test module itself (nothing to collect); imported by tests/test_controller_*.py.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field

from edge_mining.config import ControlConfig, MinerConfig
from edge_mining.control import Controller
from edge_mining.model import (
    Action,
    Command,
    Decision,
    EnergyReading,
    Forecast,
    MinerState,
    MinerStatus,
    Snapshot,
)

T0 = 1_750_000_000.0  # 2025-06-15 15:06:40 UTC; tests use offsets from here


def miner(
    name: str,
    *,
    min_w: float = 1000.0,
    max_w: float = 3000.0,
    power_target: bool = True,
    priority: int | None = None,
    ths: float = 100.0,
    nominal_w: float | None = None,
) -> MinerConfig:
    return MinerConfig(
        name=name,
        min_power_w=min_w,
        max_power_w=max_w,
        nominal_hashrate_ths=ths,
        nominal_power_w=nominal_w if nominal_w is not None else max_w,
        power_target=power_target,
        priority=priority,
    )


def control(**changes: object) -> ControlConfig:
    """Round numbers so the tables are easy to read."""
    base: dict[str, object] = {
        "start_surplus_w": 200.0,
        "stop_deficit_w": 200.0,
        "start_delay_s": 60.0,
        "stop_delay_s": 60.0,
        "min_on_s": 300.0,
        "min_off_s": 300.0,
        "max_starts_per_day": 6,
        "margin_w": 0.0,
        "power_change_interval_s": 30.0,
        "power_step_w": 500.0,
        "probe_step_w": 200.0,
        "power_deadband_w": 50.0,
    }
    base.update(changes)
    return ControlConfig.model_validate(base)


@dataclass
class Fleet:
    """Miners that do what they are told, at once: status and power follow each command."""

    configs: Sequence[MinerConfig]
    running: dict[str, bool] = field(default_factory=dict)
    target: dict[str, float] = field(default_factory=dict)
    status_override: dict[str, MinerStatus] = field(default_factory=dict)
    starts: dict[str, int] = field(default_factory=dict)

    def __post_init__(self) -> None:
        for config in self.configs:
            self.running.setdefault(config.name, False)
            self.target.setdefault(config.name, config.max_power_w)
            self.starts.setdefault(config.name, 0)

    def config(self, name: str) -> MinerConfig:
        return next(c for c in self.configs if c.name == name)

    def draw_w(self, name: str) -> float:
        if not self.running[name] or name in self.status_override:
            return 0.0
        config = self.config(name)
        return self.target[name] if config.power_target else config.nominal_power_w

    @property
    def total_draw_w(self) -> float:
        return sum(self.draw_w(c.name) for c in self.configs)

    def states(self, now: float) -> dict[str, MinerState]:
        result = {}
        for config in self.configs:
            name = config.name
            status = self.status_override.get(name)
            if status is None:
                status = MinerStatus.MINING if self.running[name] else MinerStatus.PAUSED
            result[name] = MinerState(
                name=name,
                timestamp=now,
                status=status,
                hashrate_ths=config.nominal_hashrate_ths if self.running[name] else 0.0,
                power_w=self.draw_w(name),
                power_target_w=self.target[name] if config.power_target else None,
            )
        return result

    def apply(self, commands: Iterable[Command]) -> None:
        for command in commands:
            if command.action is Action.START:
                if not self.running[command.miner]:
                    self.starts[command.miner] += 1
                self.running[command.miner] = True
            elif command.action is Action.STOP:
                self.running[command.miner] = False
            if command.power_w is not None:
                self.target[command.miner] = command.power_w


def grid_reading(now: float, surplus_w: float, fleet: Fleet, **extra: object) -> EnergyReading:
    """A grid-tied site without battery: what the miners do not use is exported."""
    return EnergyReading(timestamp=now, grid_power_w=fleet.total_draw_w - surplus_w, **extra)


def battery_reading(
    now: float, surplus_w: float, fleet: Fleet, soc: float, **extra: object
) -> EnergyReading:
    """An off-grid site: the battery takes (or gives) what the miners do not use."""
    return EnergyReading(
        timestamp=now,
        battery_soc_pct=soc,
        battery_power_w=surplus_w - fleet.total_draw_w,
        **extra,
    )


def snapshot(
    now: float,
    energy: EnergyReading | None,
    fleet: Fleet,
    *,
    forecast: Forecast | None = None,
    temperatures: Mapping[str, float] | None = None,
) -> Snapshot:
    return Snapshot(
        time=now,
        energy=energy,
        miners=fleet.states(now),
        forecast=forecast,
        room_temperatures_c=dict(temperatures or {}),
    )


def brief(decision: Decision) -> list[str]:
    """Commands as short strings: ``a:start``, ``a:stop``, ``a:set_power:1500``."""
    out = []
    for command in decision.commands:
        text = f"{command.miner}:{command.action.value}"
        if command.action is Action.SET_POWER or (
            command.action is Action.START and command.power_w is not None
        ):
            text += f":{command.power_w:.0f}"
        out.append(text)
    return out


def step(controller: Controller, fleet: Fleet, snap: Snapshot) -> Decision:
    decision = controller.tick(snap)
    fleet.apply(decision.commands)
    return decision
