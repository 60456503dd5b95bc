"""The BraiinsOS hardware models the emulator knows, and the faults it can inject.

The behaviour of a miner (warm-up, ramp, settle, pause, power targets applied with
SAVE_AND_APPLY or by a restart) is the shared :class:`~edge_mining.devices.emulation.machine.
MinerMachine`; this module adds what is BraiinsOS's own: its model table (as BraiinsOS names
the models, with their power-target constraints) and the tuner's efficiency profile
(:meth:`MinerMachine.efficiency_profile`, what ``GetMinerEfficiencyProfile`` reports), with
fans and temperatures from the same draw model, and what BraiinsOS does beyond a power target:

- Hashboards can be disabled and enabled (``DisableHashboards``/``EnableHashboards``). With
  ``k`` of ``N`` boards the tuner accepts targets in ``k/N`` of the model's range (each board
  has its own floor and ceiling), so one board of three runs at a third of the floor. A
  disabled board's share of the draw goes at once; an enabled board joins through the
  tuner's settling.
- Quick ramping (public API 1.7, ``SetQuickRamping``): how many seconds a resume takes to
  full power and a pause to idle (curtailment only). Unset: the normal warm-up and ramp, and a
  pause at once.
- Dynamic Performance Scaling (``SetDps``): while the chips are above the hot temperature,
  every ``DPS_INTERVAL_S`` the tuner lowers its power limit by the DPS step, down to the DPS
  minimum; once they are back under the target temperature it raises it again step by step
  to the configured target. ``extra_heat_c`` (a hot room, a blocked intake) makes the chips
  run hotter than the draw alone would.

The emulator's figures for these (the quick ramping range, the DPS interval) are choices of
the emulator, not measurements of a real unit.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from edge_mining.clock import Clock
from edge_mining.devices.emulation.faults import Faults
from edge_mining.devices.emulation.machine import (
    HASH_EXPONENT,
    HASH_WINDOW_S,
    WARMUP_POWER_FRACTION,
    Counters,
    Credentials,
    TargetRefused,
)
from edge_mining.devices.emulation.machine import MinerMachine as SharedMinerMachine

__all__ = [
    "HASH_EXPONENT",
    "HASH_WINDOW_S",
    "MODELS",
    "WARMUP_POWER_FRACTION",
    "Counters",
    "Credentials",
    "Faults",
    "MinerMachine",
    "MinerSpec",
    "ProfilePoint",
    "TargetRefused",
    "find_model",
    "DpsSettings",
    "HashboardRefused",
]

# The saved configuration every emulated miner reports (gRPC, bosminer.toml, cgminer pools).
POOL_URL = "stratum+tcp://stratum.braiins.com:3333"
TARGET_TEMP_C = 75.0
HOT_TEMP_C = 85.0
DANGEROUS_TEMP_C = 95.0


@dataclass(frozen=True, slots=True)
class MinerSpec:
    """A hardware model as BraiinsOS describes it."""

    key: str  # short name accepted by --model, e.g. "S19j Pro"
    model: str  # as in devdetails without the "Bitmain " prefix
    legacy: bool  # True: old BOSminer (cgminer API + LuCI only, no gRPC)
    nominal_ths: float
    nominal_w: float
    min_target_w: int
    max_target_w: int
    default_target_w: int
    hashboards: int = 3
    chips_per_board: int = 126
    fans: int = 4
    idle_w: float = 25.0
    platform: int = 3  # braiins.bos.v1.Platform
    soc_family: int = 2  # braiins.bos.v1.ControlBoardSocFamily


MODELS: dict[str, MinerSpec] = {
    spec.key.upper(): spec
    for spec in (
        MinerSpec("S19j Pro", "Antminer S19j Pro", False, 104.0, 3068.0, 1200, 3600, 3068),
        MinerSpec(
            "S19 XP",
            "Antminer S19 XP",
            False,
            140.0,
            3010.0,
            1300,
            3500,
            3010,
            chips_per_board=110,
        ),
        MinerSpec("S19", "Antminer S19", False, 95.0, 3250.0, 1300, 3700, 3250, chips_per_board=76),
        MinerSpec(
            "S21", "Antminer S21", False, 200.0, 3500.0, 1500, 4000, 3500, chips_per_board=108
        ),
        MinerSpec(
            "S9",
            "Antminer S9",
            True,
            13.5,
            1323.0,
            600,
            1600,
            1323,
            chips_per_board=63,
            fans=2,
            platform=1,
            soc_family=4,
        ),
    )
}


def find_model(name: str) -> MinerSpec:
    """The spec for ``name`` ("S19j Pro", "Antminer S19j Pro", case-insensitive)."""
    key = name.strip().upper().removeprefix("BITMAIN ").removeprefix("ANTMINER ")
    try:
        return MODELS[key]
    except KeyError:
        known = ", ".join(spec.key for spec in MODELS.values())
        raise ValueError(f"unknown miner model {name!r}; known: {known}") from None


@dataclass(frozen=True, slots=True)
class ProfilePoint:
    """One point of the tuner's efficiency profile (what GetMinerEfficiencyProfile reports)."""

    quality: int
    power_target_w: int
    consumption_w: int
    fan_speed_pct: int
    outlet_temp_c: float
    ambient_temp_c: float
    hashrate_ths: float
    frequency_hz: float
    voltage_v: float


# Quick ramping constraints (public API 1.7 ``HashboardConstraints.quick_ramping_time_s``).
QUICK_RAMPING_MIN_S = 5
QUICK_RAMPING_MAX_S = 900
QUICK_RAMPING_DEFAULT_S = 40  # the emulator's warm-up plus ramp
DPS_INTERVAL_S = 60.0  # how often Dynamic Performance Scaling re-evaluates


class HashboardRefused(Exception):
    """A hashboard change the miner refuses (an unknown board, the last enabled one)."""


@dataclass(slots=True)
class DpsSettings:
    """Dynamic Performance Scaling as configured (``SetDps``), power-target mode only."""

    enabled: bool = False
    power_step_w: int = 200
    min_power_target_w: int = 0  # 0: the model's minimum target
    shutdown_enabled: bool = False
    shutdown_duration_h: int = 3
    # Set by the tuner: the limit DPS scaled the target down to (None: not scaling).
    scaled_w: int | None = None
    next_check: float = field(default=0.0)


PROFILE_POINTS = 10
PROFILE_QUALITY = 3  # tuned profiles each point is interpolated from
AMBIENT_TEMP_C = 25.0
NOMINAL_CHIP_MHZ = 525.0


class MinerMachine(SharedMinerMachine):
    """The shared machine, with BraiinsOS's tuner profile, hashboards, quick ramping and DPS."""

    def __init__(self, spec: MinerSpec, clock: Clock, **options: object) -> None:
        # Set before the shared set-up, which already asks for hashrates.
        self.boards_enabled = [True] * spec.hashboards
        self.quick_ramping: tuple[int, int] | None = None  # (up s, down s) once set
        self.dps = DpsSettings(next_check=clock.now() + DPS_INTERVAL_S)
        self.extra_heat_c = 0.0
        super().__init__(spec, clock, **options)  # type: ignore[arg-type]
        self.spec: MinerSpec = spec

    # ------------------------------------------------------------------------- hashboards

    @property
    def enabled_boards(self) -> int:
        return sum(self.boards_enabled)

    def _share(self) -> float:
        return self.enabled_boards / self.spec.hashboards

    def target_limits(self) -> tuple[int, int]:
        share = self._share()
        return round(self.spec.min_target_w * share), round(self.spec.max_target_w * share)

    def hashrate_at(self, level_w: float) -> float:
        """Each enabled board hashes its share of the level as a full machine would."""
        share = self._share()
        return share * super().hashrate_at(level_w / share)

    def set_hashboards(self, ids: list[int], enabled: bool, *, apply: bool) -> list[bool]:
        """Enable or disable boards (0-based); the tuner keeps its target inside the new range."""
        if any(not 0 <= i < self.spec.hashboards for i in ids):
            raise HashboardRefused(f"unknown hashboard in {[i + 1 for i in ids]}")
        wanted = list(self.boards_enabled)
        for i in ids:
            wanted[i] = enabled
        if not any(wanted):
            raise HashboardRefused("at least one hashboard must stay enabled")
        self.advance()
        if not apply:
            return wanted
        before = self.enabled_boards
        self.boards_enabled = wanted
        after = self.enabled_boards
        if after < before:  # the disabled boards' draw goes at once
            self._dyn.level_w *= after / before
        low, high = self.target_limits()
        self.saved_target_w = min(max(self.saved_target_w, low), high)
        self.active_target_w = min(max(self.active_target_w, low), high)
        return list(self.boards_enabled)

    # ------------------------------------------------------------------------- quick ramping

    def set_quick_ramping(self, up_s: int | None, down_s: int | None) -> tuple[int, int] | None:
        """Set (or with None, reset to the firmware's default) the curtailment ramps."""
        if up_s is None or down_s is None:
            self.quick_ramping = None
            self.curtail_up_s, self.curtail_down_s = None, 0.0
            return None
        for value in (up_s, down_s):
            if not QUICK_RAMPING_MIN_S <= value <= QUICK_RAMPING_MAX_S:
                raise TargetRefused(
                    f"quick ramping time {value} s is outside "
                    f"[{QUICK_RAMPING_MIN_S}, {QUICK_RAMPING_MAX_S}] s"
                )
        self.quick_ramping = (up_s, down_s)
        self.curtail_up_s, self.curtail_down_s = float(up_s), float(down_s)
        return self.quick_ramping

    # ------------------------------------------------------------------------- DPS

    def effective_target_w(self) -> float:
        scaled = self.dps.scaled_w
        if scaled is not None and scaled < self.active_target_w:
            return float(scaled)
        return float(self.active_target_w)

    def dps_floor_w(self) -> int:
        low, _ = self.target_limits()
        return max(self.dps.min_power_target_w, low)

    def set_dps(self, settings: DpsSettings) -> None:
        self.advance()
        settings.next_check = self.clock.now() + DPS_INTERVAL_S
        if not settings.enabled:
            settings.scaled_w = None
        self.dps = settings

    def advance(self) -> float:
        dps = self.dps
        now = self.clock.now()
        while dps.enabled and dps.next_check <= now:
            self._advance_to(dps.next_check)
            self._dps_step()
            dps.next_check += DPS_INTERVAL_S
        now = super().advance()
        if not dps.enabled:
            dps.next_check = now + DPS_INTERVAL_S
        return now

    def _dps_step(self) -> None:
        dps = self.dps
        if not self.hashing_enabled:
            return
        chip = max(self._chip_temp(b) for b in range(self.spec.hashboards))
        current = dps.scaled_w if dps.scaled_w is not None else self.active_target_w
        if chip > HOT_TEMP_C:
            dps.scaled_w = max(self.dps_floor_w(), current - dps.power_step_w)
        elif chip < TARGET_TEMP_C and dps.scaled_w is not None:
            raised = dps.scaled_w + dps.power_step_w
            dps.scaled_w = None if raised >= self.active_target_w else raised

    def set_power_target(self, watts: int, *, apply: bool, force: bool) -> int:
        applied = super().set_power_target(watts, apply=apply, force=force)
        if apply:
            self.dps.scaled_w = None  # a new target: DPS starts again from it
        return applied

    # ------------------------------------------------------------------------- temperatures

    def board_temperature_c(self, board: int) -> float:
        self.advance()
        return self._board_temp(board)

    def chip_temperature_c(self, board: int) -> float:
        self.advance()
        return self._chip_temp(board)

    def _load(self) -> float:
        """The draw as a share of the enabled boards' nominal draw (no advance)."""
        return self._power_at(self._dyn.last) / max(self.spec.nominal_w * self._share(), 1.0)

    def _board_temp(self, board: int) -> float:
        if not self.boards_enabled[board]:
            return round(28.0 + self.extra_heat_c, 1)
        return round(28.0 + self.extra_heat_c + 32.0 * self._load() + 1.5 * board, 1)

    def _chip_temp(self, board: int) -> float:
        if not self.boards_enabled[board]:
            return self._board_temp(board)
        return round(self._board_temp(board) + 12.0 * self._load(), 1)

    def efficiency_profile(self) -> list[ProfilePoint]:
        """The tuner's efficiency curve over the power-target range, ascending."""
        spec = self.spec
        points = []
        span = spec.max_target_w - spec.min_target_w
        for k in range(PROFILE_POINTS):
            target = round(spec.min_target_w + span * k / (PROFILE_POINTS - 1))
            share = target / spec.nominal_w
            ths = self.hashrate_at(target)
            points.append(
                ProfilePoint(
                    quality=PROFILE_QUALITY,
                    power_target_w=target,
                    consumption_w=target,
                    fan_speed_pct=min(100, round(30 + 50 * share)),
                    outlet_temp_c=round(AMBIENT_TEMP_C + 30.0 * share, 1),
                    ambient_temp_c=AMBIENT_TEMP_C,
                    hashrate_ths=round(ths, 3),
                    frequency_hz=NOMINAL_CHIP_MHZ * 1e6 * ths / spec.nominal_ths,
                    voltage_v=round(12.0 + 2.4 * share, 2),
                )
            )
        return points
