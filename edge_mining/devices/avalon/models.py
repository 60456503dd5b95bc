"""The Canaan Avalon home miners: how each one identifies itself and what its levels are.

Shared by the driver (to name the level a miner reports and know its power and hashrate) and
the emulator (to answer as that model does). Identity strings are those of real units:

- Avalon Nano 3: ``version`` PROD ``Avalonnano``, MODEL ``nano3``, SWTYPE ``MM318_X2``; its
  level is the WORKLEVEL (``ascset|0,worklevel,set,N``); watts in PS[5]; no soft off.
- Avalon Nano 3S: PROD ``Avalon Nano3s``, SWTYPE ``MM319``; WORKMODE low/mid/high; watts in
  PS[6]; its published firmware (Canaan-Creative/Avalon_Nano3s, 25012001) has no
  ``softoff``/``softon`` in its ``ascset`` table.
- Avalon Mini 3: PROD ``Avalon Mini3``; WORKMODE is heating/mining/night (what the heat is
  for), WORKLEVEL super (0) or eco (-1) sets the power; watts in PS[6]; soft off.
- Avalon Q: PROD ``Avalon Q``, MODEL ``Q``, HWTYPE ``Q_MM1v1_X1``; WORKMODE eco/standard/super;
  its estats key is ``MM ID0:Summary`` holding ``'STATS':{...}``; watts in PS[6]; soft off
  (standby draws ~17 W).

pyasic 0.79 reads power from ``WALLPOWER``, which only the A-series (A15) sends, so on these
four it reports no wattage (the Nano 3S's own class reads PS[6]); the driver reads the PS
field itself.

Level figures: the top level is Canaan's nameplate; the others are from owners' readings
(Avalon Q standard: 1391 W / 81 TH/s on its dashboard; eco: MPO 800 W) or estimated by
scaling the nameplate (hashrate ~ power^0.8) where no reading was found. The catalogue in
:mod:`edge_mining.analysis.catalogue` cites the same figures.
"""

from __future__ import annotations

from dataclasses import dataclass

from edge_mining.devices.model_table import FirmwareLevel, by_key, find
from edge_mining.model import PowerLevel

AvalonLevel = FirmwareLevel  # its value is the WORKMODE or WORKLEVEL field


@dataclass(frozen=True, slots=True)
class AvalonModel:
    key: str  # the emulator's --model name
    prod: str  # version PROD
    model: str  # version MODEL
    hwtype: str
    swtype: str
    firmware: str  # version VERSION / LVERSION
    level_field: str  # "WORKMODE" or "WORKLEVEL": which one sets the power
    levels: tuple[AvalonLevel, ...]  # lowest power first
    default_level: str
    power_index: int  # where the watts are in PS[...]
    soft_off: bool  # ascset softoff/softon exist
    standby_w: float  # draw in soft off / idle
    chips: int
    fans: int
    stats_key: str = "MM ID0"  # the Q says "MM ID0:Summary"
    ver_prefix: str = ""  # estats Ver[...] prefix

    @property
    def power_levels(self) -> tuple[PowerLevel, ...]:
        return tuple(level.level for level in self.levels)

    def level(self, name: str) -> AvalonLevel:
        for level in self.levels:
            if level.name == name.lower():
                return level
        known = ", ".join(level.name for level in self.levels)
        raise ValueError(f"{self.key} has no level {name!r}; it has {known}")

    def level_of(self, value: int) -> AvalonLevel | None:
        for level in self.levels:
            if level.value == value:
                return level
        return None

    @property
    def nominal(self) -> AvalonLevel:
        return self.levels[-1]


MODELS: dict[str, AvalonModel] = by_key(
    AvalonModel(
        key="Avalon Nano 3",
        prod="Avalonnano",
        model="nano3",
        hwtype="PMMv1_X1",
        swtype="MM318_X2",
        firmware="24071801_42c628d",
        level_field="WORKLEVEL",
        levels=(
            AvalonLevel("low", 0, 70.0, 2.3),
            AvalonLevel("medium", 1, 100.0, 3.1),
            AvalonLevel("high", 2, 140.0, 4.0),
        ),
        default_level="high",
        power_index=5,
        soft_off=False,
        standby_w=4.0,
        chips=10,
        fans=1,
        ver_prefix="nano3",
    ),
    AvalonModel(
        key="Avalon Nano 3S",
        prod="Avalon Nano3s",
        model="Nano3s",
        hwtype="Nano3s_MM1v1_X1",
        swtype="MM319",
        firmware="25021401_56abae7",
        level_field="WORKMODE",
        levels=(
            AvalonLevel("low", 0, 70.0, 3.5),
            AvalonLevel("mid", 1, 100.0, 4.6),
            AvalonLevel("high", 2, 140.0, 6.0),
        ),
        default_level="high",
        power_index=6,
        soft_off=False,
        standby_w=4.0,
        chips=12,
        fans=1,
        ver_prefix="Nano3s",
    ),
    AvalonModel(
        key="Avalon Mini 3",
        prod="Avalon Mini3",
        model="Mini3",
        hwtype="Mini3_MM1v1_X1",
        swtype="MM319",
        firmware="25041801_2b3a7c1",
        level_field="WORKLEVEL",
        levels=(
            AvalonLevel("eco", -1, 500.0, 25.9),
            AvalonLevel("super", 0, 800.0, 37.5),
        ),
        default_level="super",
        power_index=6,
        soft_off=True,
        standby_w=12.0,
        chips=66,
        fans=1,
        ver_prefix="Mini3",
    ),
    AvalonModel(
        key="Avalon Q",
        prod="Avalon Q",
        model="Q",
        hwtype="Q_MM1v1_X1",
        swtype="MM319",
        firmware="25052801_14a19a2",
        level_field="WORKMODE",
        levels=(
            AvalonLevel("eco", 0, 800.0, 50.0),
            AvalonLevel("standard", 1, 1391.0, 81.0),
            AvalonLevel("super", 2, 1674.0, 90.0),
        ),
        default_level="standard",
        power_index=6,
        soft_off=True,
        standby_w=17.0,
        chips=160,
        fans=4,
        stats_key="MM ID0:Summary",
        ver_prefix="Q",
    ),
)


def find_model(name: str) -> AvalonModel:
    """The Avalon model for ``name`` ("Avalon Q", "Q", "Nano 3S", case-insensitive)."""
    return find(MODELS, name, what="Avalon model", prefix="AVALON")


def identify(prod: str | None, model: str | None) -> AvalonModel | None:
    """The model whose ``version`` says PROD ``prod`` and MODEL ``model`` (None: unknown)."""
    for candidate in MODELS.values():
        if prod and prod.strip().lower() == candidate.prod.lower():
            if candidate.prod == "Avalonnano" and (model or "").lower() not in ("", "nano3"):
                continue
            return candidate
    return None
