"""Energy counters that survive restarts: PV, load, grid, battery and miner kWh, mined energy
today and in total, estimated earnings and heat delivered.

Counters only increase (Home Assistant's ``total_increasing``), except the "today" ones, which
restart at local midnight. They integrate the previous sample's power over the time to the next
sample (left rectangles); a gap longer than ``max_gap_s`` is not integrated, so a daemon that was
down for a night does not invent energy.

The file is written atomically (a temporary file in the same directory, fsync, then
``os.replace``), so a crash mid-write leaves the previous version intact. A corrupt file is
moved aside (never deleted) and counting starts again from zero.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Iterable, Mapping
from dataclasses import asdict, dataclass, field, fields
from datetime import datetime
from pathlib import Path

from edge_mining.model import EnergyReading, MinerState
from edge_mining.state_files import move_aside, write_json_atomic

log = logging.getLogger(__name__)

COUNTERS_FILE = "counters.json"
_FORMAT_VERSION = 1


@dataclass
class EnergyCounters:
    pv_kwh: float = 0.0
    load_kwh: float = 0.0
    grid_import_kwh: float = 0.0
    grid_export_kwh: float = 0.0
    battery_charge_kwh: float = 0.0
    battery_discharge_kwh: float = 0.0
    # Energy the miners consumed: "mined energy".
    mined_kwh: float = 0.0
    mined_today_kwh: float = 0.0
    earnings: float = 0.0  # estimated, in the economics currency
    earnings_today: float = 0.0
    # Energy of miners in an enabled heating zone: all of it becomes heat where it is wanted.
    heat_kwh: float = 0.0
    today: str = ""  # local date (ISO) the "today" counters belong to
    miner_kwh: dict[str, float] = field(default_factory=dict)

    def copy(self) -> EnergyCounters:
        return EnergyCounters(**{**asdict(self), "miner_kwh": dict(self.miner_kwh)})

    def to_json(self) -> dict[str, object]:
        return {"version": _FORMAT_VERSION, **asdict(self)}

    @classmethod
    def from_json(cls, data: Mapping[str, object]) -> EnergyCounters:
        known = {f.name for f in fields(cls)}
        values: dict[str, object] = {}
        for key, value in data.items():
            if key not in known:
                continue
            if key == "today":
                values[key] = str(value)
            elif key == "miner_kwh":
                if not isinstance(value, dict):
                    raise ValueError("miner_kwh must be a mapping")
                values[key] = {str(k): float(v) for k, v in value.items()}
            else:
                number = float(value)  # type: ignore[arg-type]
                if not number >= 0:
                    raise ValueError(f"{key} must be a number >= 0")
                values[key] = number
        return cls(**values)  # type: ignore[arg-type]


class CounterIntegrator:
    """Integrates readings into :class:`EnergyCounters`."""

    def __init__(
        self,
        counters: EnergyCounters | None = None,
        *,
        max_gap_s: float = 120.0,
        hashprice_per_th_day: float = 0.0,
        heating_miners: Iterable[str] = (),
    ) -> None:
        self.counters = counters or EnergyCounters()
        self.max_gap_s = max_gap_s
        self.hashprice_per_th_day = hashprice_per_th_day
        self.heating_miners = frozenset(heating_miners)
        self._last_time: float | None = None
        self._last_energy: EnergyReading | None = None
        self._last_miners: dict[str, MinerState] = {}

    def update(
        self, now: float, energy: EnergyReading | None, miners: Mapping[str, MinerState]
    ) -> None:
        c = self.counters
        today = datetime.fromtimestamp(now).date().isoformat()
        if c.today != today:
            c.today = today
            c.mined_today_kwh = 0.0
            c.earnings_today = 0.0
        if self._last_time is not None:
            dt = now - self._last_time
            if 0 < dt <= self.max_gap_s:
                self._integrate(dt / 3600.0)
        self._last_time = now
        self._last_energy = energy
        self._last_miners = dict(miners)

    def _integrate(self, hours: float) -> None:
        c = self.counters
        e = self._last_energy
        if e is not None:
            c.pv_kwh += max(0.0, e.total_pv_power_w or 0.0) * hours / 1000.0
            c.load_kwh += max(0.0, e.load_power_w or 0.0) * hours / 1000.0
            grid = e.grid_power_w or 0.0
            c.grid_import_kwh += max(0.0, grid) * hours / 1000.0
            c.grid_export_kwh += max(0.0, -grid) * hours / 1000.0
            battery = e.battery_power_w or 0.0
            c.battery_charge_kwh += max(0.0, battery) * hours / 1000.0
            c.battery_discharge_kwh += max(0.0, -battery) * hours / 1000.0
        for name, state in self._last_miners.items():
            if not state.status.is_available:
                continue
            kwh = max(0.0, state.power_w) * hours / 1000.0
            c.miner_kwh[name] = c.miner_kwh.get(name, 0.0) + kwh
            c.mined_kwh += kwh
            c.mined_today_kwh += kwh
            if name in self.heating_miners:
                c.heat_kwh += kwh
            earned = self.hashprice_per_th_day * max(0.0, state.hashrate_ths) * hours / 24.0
            c.earnings += earned
            c.earnings_today += earned


class CounterStore:
    """Reads and atomically writes the counters file."""

    def __init__(self, directory: Path) -> None:
        self.path = Path(directory) / COUNTERS_FILE

    def load(self) -> EnergyCounters:
        try:
            text = self.path.read_text(encoding="utf-8")
        except FileNotFoundError:
            return EnergyCounters()
        try:
            data = json.loads(text)
            if not isinstance(data, dict):
                raise ValueError("not a JSON object")
            return EnergyCounters.from_json(data)
        except (ValueError, TypeError) as error:
            aside = move_aside(self.path)
            log.warning("counters file %s is unreadable (%s): moved to %s", self.path, error, aside)
            return EnergyCounters()

    def save(self, counters: EnergyCounters) -> None:
        write_json_atomic(self.path, counters.to_json())
