"""Turn a per-miner plan into commands: only what changes something, plus bounded retries."""

from __future__ import annotations

from edge_mining.config import ControlConfig
from edge_mining.control.memory import MinerMemory
from edge_mining.control.timers import elapsed
from edge_mining.model import Action, Command, MinerState

# Targets closer than this are the same target (W): float noise, not a change.
_SAME_TARGET_W = 0.5


def emit(
    memory: MinerMemory,
    state: MinerState,
    *,
    running: bool,
    target_w: float | None,
    reason: str,
    now: float,
    control: ControlConfig,
    count_start: bool,
) -> list[Command]:
    """Commands that bring ``state`` to the plan; updates the memory (intent, timers, target)."""
    commands: list[Command] = []
    observed = state.status.is_running
    has_target = memory.config.power_target and target_w is not None
    memory.reason = reason
    started = False
    if running != memory.intent:
        in_flight = not memory.followed
        memory.intent = running
        memory.followed = observed == running
        if running:
            memory.on_since = now
            memory.start_timer.reset()
            memory.stop_timer.reset()
            if count_start:
                memory.starts.add(now)
        else:
            memory.off_since = now
            memory.stop_timer.reset()
            memory.start_timer.reset()
        if observed != running or in_flight:
            action = Action.START if running else Action.STOP
            power = target_w if running and has_target else None
            commands.append(Command(memory.name, action, reason, power))
            memory.last_command, memory.last_command_at = action, now
            started = running
    elif observed != running and elapsed(memory.last_command_at, now) >= control.command_retry_s:
        action = Action.START if running else Action.STOP
        power = target_w if running and has_target else None
        commands.append(Command(memory.name, action, f"retry, not followed: {reason}", power))
        memory.last_command, memory.last_command_at = action, now
        started = running

    if not running or not has_target:
        return commands
    assert target_w is not None
    if started:
        memory.target_w, memory.target_changed_at, memory.target_sent_at = target_w, now, now
        return commands
    if memory.target_w is None or abs(target_w - memory.target_w) > _SAME_TARGET_W:
        commands.append(Command(memory.name, Action.SET_POWER, reason, target_w))
        memory.target_w, memory.target_changed_at, memory.target_sent_at = target_w, now, now
    elif (
        observed
        and state.power_target_w is not None
        and abs(state.power_target_w - target_w) > control.power_deadband_w
        and elapsed(memory.target_sent_at, now) >= control.command_retry_s
    ):
        commands.append(Command(memory.name, Action.SET_POWER, f"retry: {reason}", target_w))
        memory.target_sent_at = now
    return commands
