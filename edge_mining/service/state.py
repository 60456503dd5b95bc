"""What the daemon knows at one moment (``SiteState``), and who gets it (listeners)."""

from __future__ import annotations

import dataclasses
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass
from typing import Any

from edge_mining.config import ControlConfig
from edge_mining.counters import EnergyCounters
from edge_mining.model import Decision, EnergyReading, Forecast, MinerState, Mode


@dataclass(frozen=True, slots=True)
class SiteState:
    """What the daemon knows, as of ``time`` (clock time)."""

    time: float
    mode: Mode
    control: ControlConfig
    energy: EnergyReading | None
    # Clock seconds since the latest reading was received; None before the first one.
    energy_age_s: float | None
    energy_stale: bool
    energy_error: str | None
    miners: Mapping[str, MinerState]
    forecast: Forecast | None
    decision: Decision | None
    counters: EnergyCounters
    # Miners under a user's manual command (until released).
    manual_miners: frozenset[str] = frozenset()
    # Room temperature per heating zone (°C), fresh ones only.
    room_temperatures_c: Mapping[str, float] = dataclasses.field(default_factory=dict)
    # The planner's next 24 h (Controller.plan_document), None without a planner.
    plan: Mapping[str, Any] | None = None


# Called with the SiteState after every control tick; may be a coroutine function.
Listener = Callable[[SiteState], Awaitable[None] | None]
