"""The part of the controller's memory that must survive a restart, as plain dicts (no I/O).

Only what protects the hardware and keeps the fleet fair is carried over, per miner:

- the starts counted on the current local day (``max_starts_per_day``: a daemon in a crash loop
  must not start a miner more often than the limit);
- ``on_since`` / ``off_since`` (minimum on/off times);
- ``rest_until`` and ``handover_at`` (a miner that handed over rests; one handover per
  ``min_on_s``).

Everything else (intent, timers of conditions, targets, manual commands) is rebuilt from the
first telemetry, as on a fresh start. A miner that was running when the memory was exported
and is found stopped after the restart stopped at some unknown moment after the export: its
off-time is counted from the export, so it cannot be restarted inside ``min_off_s``.

Import is all or nothing: a malformed document or entry raises ``ValueError`` (one line, for
the daemon to log once) and changes nothing. Unknown miners (removed from the configuration)
and starts from another day are ignored. Times in the future (a clock that jumped back) are
clamped to ``now`` so they cannot block a miner for longer than its configured protections.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping
from dataclasses import dataclass

from edge_mining.control.memory import MinerMemory
from edge_mining.control.timers import local_midnight

FORMAT_VERSION = 1
_TIMES = ("on_since", "off_since", "handover_at", "rest_until")
# More than any configurable max_starts_per_day (le=1000): a larger count is not ours.
_MAX_STARTS = 100_000


@dataclass(frozen=True, slots=True)
class ProtectedState:
    """One miner's protections, validated."""

    on_since: float | None
    off_since: float | None
    handover_at: float | None
    rest_until: float | None
    starts_day: int
    starts: int


def export_memory(memories: Iterable[MinerMemory], now: float | None) -> dict[str, object]:
    """The protections of every miner as JSON-ready plain data; ``now`` is the controller's
    latest time (None before any tick or import: no starts to carry)."""
    miners: dict[str, object] = {}
    for memory in memories:
        entry: dict[str, object] = {key: getattr(memory, key) for key in _TIMES}
        entry["starts_day"] = memory.starts.day(now) if now is not None else None
        entry["starts"] = memory.starts.count(now) if now is not None else 0
        miners[memory.name] = entry
    return {"version": FORMAT_VERSION, "time": now, "miners": miners}


def parse_memory(data: object) -> tuple[float | None, dict[str, ProtectedState]]:
    """Validate an exported document: (export time, protections per miner name)."""
    if not isinstance(data, Mapping):
        raise ValueError("controller memory must be a JSON object")
    if data.get("version") != FORMAT_VERSION:
        raise ValueError(f"controller memory version {data.get('version')!r} is not supported")
    exported_at = _time(data.get("time"), "time")
    miners = data.get("miners")
    if not isinstance(miners, Mapping):
        raise ValueError("controller memory: 'miners' must be an object")
    parsed: dict[str, ProtectedState] = {}
    for name, entry in miners.items():
        if not isinstance(entry, Mapping):
            raise ValueError(f"controller memory: miner {name!r} must be an object")
        times = {key: _time(entry.get(key), f"{name}.{key}") for key in _TIMES}
        day, starts = entry.get("starts_day"), entry.get("starts", 0)
        if day is not None and (not _is_int(day) or day < 0):
            raise ValueError(f"controller memory: {name}.starts_day must be a day number")
        if not _is_int(starts) or not 0 <= starts <= _MAX_STARTS:
            raise ValueError(f"controller memory: {name}.starts must be a count >= 0")
        parsed[str(name)] = ProtectedState(
            **times, starts_day=-1 if day is None else int(day), starts=int(starts)
        )
    return exported_at, parsed


def import_memory(
    memories: Mapping[str, MinerMemory], data: object, now: float, max_rest_s: float
) -> None:
    """Restore the protections exported by :func:`export_memory` (call before the first tick).

    ``max_rest_s`` bounds ``rest_until`` ahead of ``now``. Raises ``ValueError`` (and changes
    nothing) when ``data`` is malformed."""
    exported_at, parsed = parse_memory(data)
    for name, saved in parsed.items():
        memory = memories.get(name)
        if memory is None:
            continue  # no longer configured
        on_since, off_since = _past(saved.on_since, now), _past(saved.off_since, now)
        was_running = on_since is not None and (off_since is None or on_since > off_since)
        if was_running:
            # If it is found stopped, it stopped after the export at the earliest.
            off_since = max(on_since, _past(exported_at, now) or on_since)
        memory.on_since = on_since
        memory.off_since = off_since
        memory.handover_at = _past(saved.handover_at, now)
        memory.rest_until = (
            None if saved.rest_until is None else min(saved.rest_until, now + max_rest_s)
        )
        day = memory.starts.day(now)
        if saved.starts_day == day:
            # Starts are counted at the beginning of today (only the day matters).
            midnight = local_midnight(day, memory.starts.utc_offset_s)
            for _ in range(saved.starts - memory.starts.count(now)):
                memory.starts.add(midnight)


def _time(value: object, what: str) -> float | None:
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int | float) or not math.isfinite(value):
        raise ValueError(f"controller memory: {what} must be a time in epoch seconds or null")
    return float(value)


def _is_int(value: object) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def _past(value: float | None, now: float) -> float | None:
    return None if value is None else min(value, now)
