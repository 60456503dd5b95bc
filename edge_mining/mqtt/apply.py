"""Applies one validated command (``commands.Request``) through the daemon.

The one place where a user's request becomes a daemon call: the MQTT bridge and the web panel
both parse with ``commands.parse_command`` and apply here, so a command means the same and is
checked the same whichever way it arrives.
"""

from __future__ import annotations

import inspect
from typing import Any, Protocol

from edge_mining.model import Mode
from edge_mining.mqtt import state as docs
from edge_mining.mqtt.commands import (
    HoldMiner,
    ReleaseMiner,
    Request,
    SetControl,
    SetMinerPower,
    SetMinerRunning,
    SetMode,
)
from edge_mining.service.state import SiteState


class CommandTarget(Protocol):
    """What applying a command needs from the daemon (``edge_mining.service.Daemon``)."""

    @property
    def state(self) -> SiteState: ...

    def set_mode(self, mode: Mode) -> Any: ...

    def command_miner(
        self, name: str, *, running: bool | None = None, power_w: float | None = None
    ) -> Any: ...

    def release_miner(self, name: str) -> Any: ...

    def update_control(self, **changes: float) -> Any: ...


async def _maybe_await(value: Any) -> Any:
    if inspect.isawaitable(value):
        return await value
    return value


async def apply_request(daemon: CommandTarget, request: Request) -> None:
    """Apply ``request``; the daemon's own checks raise ValueError with a one-line reason."""
    match request:
        case SetMode(mode):
            await _maybe_await(daemon.set_mode(mode))
        case SetControl(field, value):
            await _maybe_await(daemon.update_control(**{field: value}))
        case SetMinerRunning(miner, running):
            await _maybe_await(daemon.command_miner(miner, running=running))
        case SetMinerPower(miner, watts):
            await _maybe_await(daemon.command_miner(miner, power_w=watts))
        case HoldMiner(miner):
            running = docs.is_running(daemon.state, miner)
            await _maybe_await(daemon.command_miner(miner, running=running))
        case ReleaseMiner(miner):
            await _maybe_await(daemon.release_miner(miner))
