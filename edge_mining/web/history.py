"""The last 48 hours of the site at 1-minute resolution, and the decisions taken in them.

Each control tick adds a sample to the current minute; when the minute ends its means become
one row (PV, house load, battery power and SoC, grid, each miner's power). The rows and the
decision markers are bounded (``MAX_ROWS``, ``MAX_MARKERS``): memory and the file stay the same
size however long the daemon runs. A per-day ledger (mined energy, hashing, estimated value,
heat; ``MAX_DAYS`` days) gives the panel "this month".

``history.json`` in ``state_dir`` is written atomically every ``save_interval_s`` and on stop,
so a restart (an update, a crash) keeps the charts; a corrupt file is moved aside once.
"""

from __future__ import annotations

import json
import logging
import math
from array import array
from collections import deque
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any

from edge_mining.counters import EnergyCounters
from edge_mining.service.state import SiteState
from edge_mining.state_files import move_aside, write_json_atomic

log = logging.getLogger(__name__)

HISTORY_FILE = "history.json"
_FORMAT_VERSION = 1
ROW_S = 60.0
KEEP_S = 48 * 3600.0
MAX_ROWS = int(KEEP_S / ROW_S)
MAX_MARKERS = 1000
MAX_DAYS = 400
# The quantities of a row, in file and API order (W, except soc in %).
SITE_COLUMNS = ("pv", "load", "battery", "soc", "grid")


@dataclass
class _Minute:
    """Running sums of the samples of the minute being built."""

    start: float
    sums: dict[str, float] = field(default_factory=dict)
    counts: dict[str, int] = field(default_factory=dict)

    def add(self, key: str, value: float | None) -> None:
        if value is None or not math.isfinite(value):
            return
        self.sums[key] = self.sums.get(key, 0.0) + value
        self.counts[key] = self.counts.get(key, 0) + 1

    def mean(self, key: str) -> float | None:
        count = self.counts.get(key)
        return None if not count else round(self.sums[key] / count, 1)


@dataclass
class DayTotals:
    """What one local day brought (deltas of the persistent counters)."""

    mined_kwh: float = 0.0
    earnings: float = 0.0
    heat_kwh: float = 0.0
    pv_kwh: float = 0.0
    th_days: float = 0.0  # hashing done, TH/s x days


class History:
    """Rows, markers and the day ledger; ``record`` is called with every SiteState."""

    def __init__(self, miners: Iterable[str], state_dir: Path | None = None) -> None:
        self.miners = tuple(miners)
        self.path = None if state_dir is None else Path(state_dir) / HISTORY_FILE
        # One array of doubles per quantity (NaN: unknown): a few hundred KiB for 48 hours.
        self.columns: dict[str, array[float]] = {
            key: array("d") for key in ("t", *SITE_COLUMNS, *self.miners)
        }
        self.markers: deque[dict[str, Any]] = deque(maxlen=MAX_MARKERS)
        self.days: dict[str, DayTotals] = {}
        self._minute: _Minute | None = None
        self._last_counters: EnergyCounters | None = None
        self._last_decision: object = None
        self._last_time: float | None = None
        self.version = 0  # bumped whenever a row or a marker is added

    # ------------------------------------------------------------------------ recording

    def record(self, state: SiteState) -> None:
        now = state.time
        minute_start = math.floor(now / ROW_S) * ROW_S
        if self._minute is not None and minute_start != self._minute.start:
            self._close_minute()
        if self._minute is None:
            self._minute = _Minute(minute_start)
        minute = self._minute
        energy = None if state.energy_stale else state.energy
        if energy is not None:
            minute.add("pv", energy.total_pv_power_w)
            minute.add("load", energy.load_power_w)
            minute.add("battery", energy.battery_power_w)
            minute.add("soc", energy.battery_soc_pct)
            minute.add("grid", energy.grid_power_w)
        for name in self.miners:
            miner = state.miners.get(name)
            if miner is not None and miner.status.is_available:
                minute.add(name, miner.power_w)
        self._record_decision(state)
        self._record_day(state)
        self._last_time = now

    def _close_minute(self) -> None:
        minute = self._minute
        assert minute is not None
        self._append({"t": minute.start, **{k: minute.mean(k) for k in self._quantities()}})
        self._minute = None
        self.version += 1
        self._trim(minute.start)

    def _quantities(self) -> tuple[str, ...]:
        return (*SITE_COLUMNS, *self.miners)

    def _append(self, row: Mapping[str, float | None]) -> None:
        for key, column in self.columns.items():
            value = row.get(key)
            column.append(math.nan if value is None else float(value))

    @property
    def rows(self) -> int:
        return len(self.columns["t"])

    def _trim(self, now: float) -> None:
        times = self.columns["t"]
        drop = 0
        while drop < len(times) and (times[drop] < now - KEEP_S or len(times) - drop > MAX_ROWS):
            drop += 1
        if drop:
            for column in self.columns.values():
                del column[:drop]
        while self.markers and self.markers[0]["t"] < now - KEEP_S:
            self.markers.popleft()

    def _record_decision(self, state: SiteState) -> None:
        decision = state.decision
        if decision is None or decision is self._last_decision:
            return
        self._last_decision = decision
        if not decision.commands:
            return
        self.markers.append(
            {
                "t": round(decision.time, 1),
                "reason": decision.reason,
                "commands": [str(command) for command in decision.commands],
            }
        )
        self.version += 1

    def _record_day(self, state: SiteState) -> None:
        counters = state.counters
        previous = self._last_counters
        self._last_counters = counters
        if previous is None or self._last_time is None:
            return
        day = datetime.fromtimestamp(state.time).date().isoformat()
        totals = self.days.get(day)
        if totals is None:
            totals = self.days[day] = DayTotals()
            for old in sorted(self.days)[:-MAX_DAYS]:
                del self.days[old]
        # Counters only grow; a smaller value means they were reset: nothing to add.
        totals.mined_kwh += max(0.0, counters.mined_kwh - previous.mined_kwh)
        totals.earnings += max(0.0, counters.earnings - previous.earnings)
        totals.heat_kwh += max(0.0, counters.heat_kwh - previous.heat_kwh)
        totals.pv_kwh += max(0.0, counters.pv_kwh - previous.pv_kwh)
        dt = state.time - self._last_time
        if 0 < dt <= 600:
            hashrate = sum(m.hashrate_ths for m in state.miners.values() if m.status.is_available)
            totals.th_days += max(0.0, hashrate) * dt / 86400.0

    # --------------------------------------------------------------------------- reading

    def series(self) -> dict[str, Any]:
        """Columnar rows for the charts (null where unknown) and the markers."""
        columns = {key: _json_column(values) for key, values in self.columns.items()}
        return {
            "row_s": ROW_S,
            "miners": list(self.miners),
            "columns": columns,
            "markers": list(self.markers),
        }

    def totals(self, today: str) -> dict[str, dict[str, float]]:
        """Today's and this month's totals (``today`` is a local ISO date)."""
        month = today[:7]
        result = {"today": DayTotals(), "month": DayTotals()}
        for day, totals in self.days.items():
            targets = []
            if day == today:
                targets.append(result["today"])
            if day.startswith(month):
                targets.append(result["month"])
            for target in targets:
                for key in vars(totals):
                    setattr(target, key, getattr(target, key) + getattr(totals, key))
        return {name: dict(vars(value)) for name, value in result.items()}

    # ------------------------------------------------------------------------ persistence

    def to_json(self) -> dict[str, Any]:
        return {
            "version": _FORMAT_VERSION,
            "miners": list(self.miners),
            "columns": {key: _json_column(values) for key, values in self.columns.items()},
            "markers": list(self.markers),
            "days": {day: vars(totals) for day, totals in self.days.items()},
        }

    def load(self) -> None:
        """Restore from ``history.json``; a missing file is an empty history."""
        if self.path is None:
            return
        try:
            text = self.path.read_text(encoding="utf-8")
        except FileNotFoundError:
            return
        try:
            self._restore(json.loads(text))
        except (ValueError, TypeError, KeyError, AttributeError) as error:
            for column in self.columns.values():
                del column[:]
            self.markers.clear()
            self.days.clear()
            aside = move_aside(self.path)
            log.warning("history file %s is unreadable (%s): moved to %s", self.path, error, aside)

    def _restore(self, data: Mapping[str, Any]) -> None:
        if data.get("version") != _FORMAT_VERSION:
            raise ValueError(f"unknown format version {data.get('version')!r}")
        columns = data["columns"]
        times = [float(t) for t in columns["t"]][-MAX_ROWS:]
        restored = {"t": times}
        for key in self._quantities():
            values = columns.get(key) or [None] * len(columns["t"])  # a miner added since
            if len(values) != len(columns["t"]):
                raise ValueError(f"column {key!r} has {len(values)} values, not {len(times)}")
            restored[key] = [None if v is None else float(v) for v in values][-MAX_ROWS:]
        for i in range(len(times)):
            self._append({key: values[i] for key, values in restored.items()})
        for marker in data["markers"][-MAX_MARKERS:]:
            self.markers.append(
                {
                    "t": float(marker["t"]),
                    "reason": str(marker["reason"]),
                    "commands": [str(c) for c in marker["commands"]],
                }
            )
        for day, totals in sorted(data["days"].items())[-MAX_DAYS:]:
            self.days[str(day)] = DayTotals(
                **{key: float(totals.get(key, 0.0)) for key in vars(DayTotals())}
            )
        self.version += 1

    def save(self) -> None:
        if self.path is not None:
            write_json_atomic(self.path, self.to_json(), indent=None)


def _json_column(values: array[float]) -> list[float | None]:
    """A column as JSON numbers, NaN (unknown) as null, one decimal."""
    return [None if math.isnan(v) else round(v, 1) for v in values]
