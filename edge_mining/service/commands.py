"""Validation of the commands users send the daemon (MQTT bridge, tools).

Each check raises ValueError with a one-line reason the bridge can publish as is; nothing here
changes any state.
"""

from __future__ import annotations

import math
from collections.abc import Collection, Mapping
from typing import Any

from pydantic import ValidationError

from edge_mining.config import ControlConfig, MinerConfig, describe_validation_error
from edge_mining.model import MinerState, Mode


def parse_mode(mode: Mode | str) -> Mode:
    """A mode by name, case and surrounding spaces ignored."""
    try:
        return Mode(str(mode).strip().lower())
    except ValueError:
        options = ", ".join(m.value for m in Mode)
        raise ValueError(f"unknown mode {mode!r} (expected one of {options})") from None


def check_miner_name(name: object, known: Collection[str]) -> str:
    if not isinstance(name, str) or name not in known:
        raise ValueError(f"unknown miner {name!r}")
    return name


def power_limits(config: MinerConfig, state: MinerState | None) -> tuple[float, float]:
    """The power-target range of a miner: what it reports, within its configuration."""
    low = state.target_min_w if state and state.target_min_w is not None else None
    high = state.target_max_w if state and state.target_max_w is not None else None
    return (
        config.min_power_w if low is None else max(low, config.min_power_w),
        config.max_power_w if high is None else min(high, config.max_power_w),
    )


def check_miner_command(
    config: MinerConfig,
    limits: tuple[float, float],
    *,
    running: object = None,
    power_w: object = None,
) -> tuple[bool | None, float | None]:
    """A manual command's (running, power_w), checked against the miner's abilities."""
    if running is None and power_w is None:
        raise ValueError("nothing to do: give running and/or power_w")
    if running is not None and not isinstance(running, bool):
        raise ValueError(f"running must be true or false, got {running!r}")
    if power_w is None:
        return running, None
    if isinstance(power_w, bool) or not isinstance(power_w, int | float):
        raise ValueError(f"power_w must be a number, got {power_w!r}")
    if not math.isfinite(power_w):
        raise ValueError(f"power_w must be a finite number, got {power_w!r}")
    if not config.power_target:
        raise ValueError(f"miner {config.name!r} takes no power target (on/off only)")
    low, high = limits
    if not low <= power_w <= high:
        raise ValueError(
            f"power target {power_w:g} W is outside {config.name}'s limits [{low:g}, {high:g}] W"
        )
    return running, float(power_w)


def check_control_changes(control: ControlConfig, changes: Mapping[str, Any]) -> None:
    """Run-time control changes, validated exactly like the configuration (mode excepted:
    it has its own command)."""
    if not changes:
        raise ValueError("no control setting given")
    allowed = set(ControlConfig.model_fields) - {"mode"}
    unknown = sorted(set(changes) - allowed)
    if unknown:
        raise ValueError(f"unknown control setting(s): {', '.join(unknown)}")
    try:
        ControlConfig.model_validate({**control.model_dump(), **changes})
    except ValidationError as error:
        lines = describe_validation_error(error, changes)
        raise ValueError("; ".join(lines)) from None
    except ValueError as error:
        raise ValueError(str(error)) from None
