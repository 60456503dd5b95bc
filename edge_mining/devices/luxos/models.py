"""Antminers running Luxor's LuxOS: the models emulated and their frequency profiles.

LuxOS speaks the cgminer API on 4028 (``version`` answers ``LUXminer``, which is how pyasic
recognises it) with its own additions: a session (``logon``/``session``/``logoff``) that every
changing command takes as its first parameter, power profiles named by frequency
(``profiles``: ``Profile Name``, ``Frequency``, ``Voltage``, ``Watts``, ``Hashrate``,
``IsTuned``; ``profileset``; the active one in ``config``'s ``Profile``), the draw
(``power``: ``Watts``), and curtailment (``curtail sleep`` powers the hashboards down with the
control board on the network, ``curtail wakeup`` brings them back).

The profiles here scale hashrate with frequency and improve J/TH at lower frequency, around
each model's stock figures (S19j Pro 104 TH/s at 3068 W, S21 200 TH/s at 3500 W).
"""

from __future__ import annotations

from dataclasses import dataclass

from edge_mining.devices.emulation.bitmain import BitmainHardware
from edge_mining.devices.model_table import by_key, find
from edge_mining.model import PowerLevel


@dataclass(frozen=True, slots=True)
class LuxProfile:
    name: str
    frequency_mhz: int
    voltage_v: float
    watts: int
    hashrate_ths: float

    @property
    def level(self) -> PowerLevel:
        return PowerLevel(self.name, float(self.watts), self.hashrate_ths)


@dataclass(frozen=True, slots=True)
class LuxModel:
    key: str  # --model name
    hardware: BitmainHardware
    profiles: tuple[LuxProfile, ...]  # lowest power first
    default_profile: str
    sleep_w: float  # curtailed draw (control board, fans slow)
    firmware: str = "2024.6.18.181313-3afaf1f"

    def profile(self, name: str) -> LuxProfile | None:
        for profile in self.profiles:
            if profile.name.lower() == name.strip().lower():
                return profile
        return None


def _profiles(
    nominal_ths: float, nominal_w: float, stock_mhz: int, frequencies: tuple[int, ...]
) -> tuple[LuxProfile, ...]:
    j_per_th = nominal_w / nominal_ths
    profiles = []
    for mhz in frequencies:
        share = mhz / stock_mhz
        ths = round(nominal_ths * share, 2)
        efficiency = j_per_th * (0.62 + 0.38 * share)
        volts = round(12.0 + 2.2 * share, 2)
        profiles.append(LuxProfile(f"{mhz}MHz", mhz, volts, round(ths * efficiency), ths))
    return tuple(profiles)


MODELS: dict[str, LuxModel] = by_key(
    LuxModel(
        key="Antminer S19j Pro (LuxOS)",
        hardware=BitmainHardware("Antminer S19j Pro", 3, 126, 4, 104.0, 3068.0, 415.0),
        profiles=_profiles(104.0, 3068.0, 415, (190, 240, 290, 340, 390, 415, 440, 465)),
        default_profile="415MHz",
        sleep_w=30.0,
    ),
    LuxModel(
        key="Antminer S21 (LuxOS)",
        hardware=BitmainHardware("Antminer S21", 3, 108, 4, 200.0, 3500.0, 490.0),
        profiles=_profiles(200.0, 3500.0, 490, (290, 340, 390, 440, 490, 515)),
        default_profile="490MHz",
        sleep_w=30.0,
    ),
)


def find_model(name: str) -> LuxModel:
    return find(MODELS, name, what="LuxOS model")
