"""The BraiinsOS hardware models the emulator knows, and the faults it can inject.

The behaviour of a miner (warm-up, ramp, settle, pause, power targets applied with
SAVE_AND_APPLY or by a restart) is the shared :class:`~edge_mining.devices.emulation.machine.
MinerMachine`; this module adds what is BraiinsOS's own: its model table (as BraiinsOS names
the models, with their power-target constraints) and the tuner's efficiency profile
(:meth:`MinerMachine.efficiency_profile`, what ``GetMinerEfficiencyProfile`` reports), with
fans and temperatures from the same draw model.
"""

from __future__ import annotations

from dataclasses import dataclass

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


PROFILE_POINTS = 10
PROFILE_QUALITY = 3  # tuned profiles each point is interpolated from
AMBIENT_TEMP_C = 25.0
NOMINAL_CHIP_MHZ = 525.0


class MinerMachine(SharedMinerMachine):
    """The shared machine, with BraiinsOS's tuner profile."""

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
