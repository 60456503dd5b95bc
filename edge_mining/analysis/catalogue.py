"""A small catalogue of miners, and the ``MODEL[:COUNT]`` syntax of the backtest's ``--miner``.

Nominal figures are the manufacturers' stock ratings (Bitmain's specification sheets). The
power-target range is what BraiinsOS-class firmware roughly accepts when tuning down (about
40 % of nominal); it is an approximation, so a miner can also be given explicitly as
``<W>W@<TH>TH`` (for example ``3250W@95TH:2``), which runs on/off only, at its nominal power.

Efficiency curves. A tuned-down ASIC is more efficient: lower frequency lets the tuner lower
the chips' voltage, and dynamic power goes with the voltage squared. The catalogue models it
with one parameter per the published figures: J/TH falls linearly with power,

    J/TH(P) = J/TH_nominal * (1 - TUNING_GAIN * (1 - P / P_nominal)),

so hashrate ``P / J/TH(P)`` is concave in power. ``TUNING_GAIN`` = 0.42 is calibrated on a
published pair for the S19j Pro 96T: 96 TH/s at 2,850 W stock (29.7 J/TH) and 74.5 TH/s at
1,905 W underclocked (25.6 J/TH), 14 % better at 67 % power ("HashProphet: S19j Pro factory,
overclocked and underclocked", Bitcoin Magazine, 2024). It is an approximation for every
model; a miner's own curve (BraiinsOS ``GetMinerEfficiencyProfile``, or ``efficiency_curve``
in the configuration) replaces it where known. Each catalogue curve has ``CURVE_POINTS``
points from the minimum to the maximum power.

Home miners with discrete power levels (Avalon work modes, Bitaxe/NerdQAxe frequencies,
Whatsminer power modes) come from their drivers' model tables, so the backtest and the
drivers agree; their curve is a point per level. Each entry's ``source`` says where its
figures come from.
"""

from __future__ import annotations

import argparse
import json
import re
from collections.abc import Iterable
from dataclasses import asdict, dataclass

from edge_mining.config import CurvePoint, LevelConfig, MinerConfig
from edge_mining.model import HashrateCurve, PowerLevel

TUNING_GAIN = 0.42
CURVE_POINTS = 7


@dataclass(frozen=True, slots=True)
class MinerModel:
    name: str
    nominal_power_w: float
    nominal_hashrate_ths: float
    min_power_w: float
    max_power_w: float
    power_target: bool = True
    price_usd: float | None = None  # indicative street price, for a CAPEX default
    levels: tuple[PowerLevel, ...] = ()  # discrete power levels, lowest first (or none)
    source: str = "Bitmain specification sheet; curve: the tuning model (module doc)"

    @property
    def efficiency_j_per_th(self) -> float:
        return self.nominal_power_w / self.nominal_hashrate_ths

    def curve(self) -> HashrateCurve:
        """The model's efficiency curve (see the module doc); one point when on/off only;
        a point per level for a level miner."""
        if self.levels:
            points = tuple((lv.power_w, lv.hashrate_ths) for lv in self.levels)
            return HashrateCurve(points, source=f"catalogue: {self.name} levels")
        if not self.power_target or self.max_power_w <= self.min_power_w:
            return HashrateCurve(
                ((self.nominal_power_w, self.nominal_hashrate_ths),), source="catalogue"
            )
        points = []
        for k in range(CURVE_POINTS):
            power = self.min_power_w + (self.max_power_w - self.min_power_w) * k / (
                CURVE_POINTS - 1
            )
            points.append((round(power, 1), round(tuned_hashrate_ths(self, power), 3)))
        return HashrateCurve(tuple(points), source=f"catalogue: {self.name}")


def tuned_hashrate_ths(model: MinerModel, power_w: float) -> float:
    """Hashrate at ``power_w`` under the catalogue's tuning model (module doc)."""
    ratio = power_w / model.nominal_power_w
    j_per_th = model.efficiency_j_per_th * (1.0 - TUNING_GAIN * (1.0 - ratio))
    return power_w / j_per_th


def _leveled(
    name: str, levels: tuple[PowerLevel, ...], source: str, price_usd: float | None = None
) -> MinerModel:
    top = levels[-1]
    return MinerModel(
        name,
        top.power_w,
        top.hashrate_ths,
        levels[0].power_w,
        top.power_w,
        price_usd=price_usd,
        levels=levels,
        source=source,
    )


def _home_miners() -> list[MinerModel]:
    """The level miners, from the drivers' model tables (one place for their figures)."""
    from edge_mining.devices.avalon.models import MODELS as AVALON
    from edge_mining.devices.bitaxe.models import BOARDS
    from edge_mining.devices.whatsminer.models import MODELS as WHATSMINER

    avalon_sources = {
        "Avalon Nano 3": "Canaan: 4 TH/s at 140 W (high); low and medium scaled (P^0.8)",
        "Avalon Nano 3S": "Canaan: 6 TH/s at 140 W (high; estats MPO 133-140 W); low, mid scaled",
        "Avalon Mini 3": "Canaan: 37.5 TH/s at 800 W (super); eco 500 W scaled (estimate)",
        "Avalon Q": (
            "Canaan: 90 TH/s at 1674 W (super); standard 1391 W and 81 TH/s read on a unit's "
            "dashboard; eco: MPO 800 W, hashrate scaled"
        ),
    }
    prices = {"Avalon Nano 3": 200.0, "Avalon Nano 3S": 300.0, "Avalon Mini 3": 900.0}
    models = [
        _leveled(m.key, m.power_levels, avalon_sources[m.key], prices.get(m.key, 1600.0))
        for m in AVALON.values()
    ]
    for board in BOARDS.values():
        models.append(
            _leveled(
                board.key,
                board.power_levels,
                f"ESP-Miner frequency options of the {board.device_model} ({board.asic_count}x "
                f"{board.asic_model}); hashrate = small cores x ASICs x MHz (the firmware's "
                f"expectation), power {board.nominal_w:g} W at {board.default_frequency} MHz "
                "scaled with frequency above a static part",
                400.0 if board.asic_count > 1 else 150.0,
            )
        )
    for wm in WHATSMINER.values():
        models.append(
            _leveled(
                wm.key,
                tuple(mode.level for mode in wm.modes),
                "MicroBT rating (normal); low/high power modes about -15 %/+12 % power "
                "(estimate), hashrate ~ power^0.8",
            )
        )
    return models


CATALOGUE: dict[str, MinerModel] = {
    model.name: model
    for model in (
        MinerModel("S9", 1323.0, 13.5, 600.0, 1323.0, price_usd=50.0),
        MinerModel("S19", 3250.0, 95.0, 1300.0, 3250.0, price_usd=600.0),
        MinerModel("S19j Pro", 3050.0, 100.0, 1220.0, 3050.0, price_usd=800.0),
        MinerModel("S21", 3500.0, 200.0, 1400.0, 3500.0, price_usd=3500.0),
        MinerModel("S19k Pro", 2760.0, 120.0, 1100.0, 2760.0),
        MinerModel("S19 XP", 3010.0, 140.0, 1300.0, 3010.0),
        MinerModel("S21 Pro", 3510.0, 234.0, 1400.0, 3510.0),
        MinerModel("S21 XP", 3645.0, 270.0, 1500.0, 3645.0),
        # Bitaxe-class open-source single-chip miner: a USB-C powered board, on/off only.
        MinerModel("Bitaxe", 17.0, 1.2, 17.0, 17.0, power_target=False, price_usd=150.0),
        *_home_miners(),
    )
}

_EXPLICIT = re.compile(r"^(?P<w>\d+(?:\.\d+)?)W@(?P<th>\d+(?:\.\d+)?)TH$", re.IGNORECASE)


def _normalise(name: str) -> str:
    return re.sub(r"[^a-z0-9]", "", name.lower())


def find_model(name: str) -> MinerModel:
    """A catalogue model by name (case, spaces and dashes ignored) or an explicit spec."""
    match = _EXPLICIT.match(name.strip())
    if match:
        watts, ths = float(match["w"]), float(match["th"])
        if watts <= 0 or ths <= 0:
            raise ValueError(f"miner {name!r}: power and hashrate must be above 0")
        return MinerModel(name.strip(), watts, ths, watts, watts, power_target=False)
    wanted = _normalise(name)
    for model in CATALOGUE.values():
        if _normalise(model.name) == wanted:
            return model
    known = ", ".join(CATALOGUE)
    raise ValueError(f"unknown miner model {name!r} (known: {known}, or e.g. 3250W@95TH)")


def parse_miner_spec(spec: str) -> tuple[MinerModel, int]:
    """``MODEL[:COUNT]`` into a model and a count."""
    model_name, sep, count_text = spec.rpartition(":")
    if not sep:
        model_name, count_text = spec, "1"
    try:
        count = int(count_text)
    except ValueError:
        raise ValueError(f"miner {spec!r}: COUNT must be a whole number") from None
    if not 1 <= count <= 1000:
        raise ValueError(f"miner {spec!r}: COUNT must be between 1 and 1000")
    return find_model(model_name), count


def miner_configs(specs: Iterable[str]) -> list[MinerConfig]:
    """Miner configurations for a list of ``MODEL[:COUNT]`` specs, named ``<model>-<n>``."""
    configs: list[MinerConfig] = []
    for spec in specs:
        model, count = parse_miner_spec(spec)
        stem = re.sub(r"[^A-Za-z0-9_-]", "", model.name.replace(" ", "-").replace("@", "-"))
        for _ in range(count):
            configs.append(
                MinerConfig(
                    name=f"{stem}-{len(configs) + 1}"[:40],
                    min_power_w=model.min_power_w,
                    max_power_w=model.max_power_w,
                    nominal_hashrate_ths=model.nominal_hashrate_ths,
                    nominal_power_w=model.nominal_power_w,
                    power_target=model.power_target,
                    efficiency_curve=None
                    if model.levels
                    else [
                        CurvePoint(power_w=w, hashrate_ths=ths) for w, ths in model.curve().points
                    ],
                    levels=[
                        LevelConfig(name=lv.name, power_w=lv.power_w, hashrate_ths=lv.hashrate_ths)
                        for lv in model.levels
                    ]
                    or None,
                )
            )
    return configs


def main(args: argparse.Namespace) -> int:
    """``edge-mining catalogue``: the models ``--miner`` accepts."""
    if args.json:
        print(json.dumps([asdict(m) for m in CATALOGUE.values()], indent=2))
        return 0
    width = max(len(m.name) for m in CATALOGUE.values())
    print(
        f"{'model':<{width}} {'power':>7} {'hashrate':>11} {'efficiency':>11} "
        f"{'power range':>20} {'price':>9}"
    )
    for m in CATALOGUE.values():
        span = f"{m.min_power_w:.0f}-{m.max_power_w:.0f} W" if m.power_target else "on/off only"
        if m.levels:
            span = f"{len(m.levels)} levels {m.min_power_w:.0f}-{m.max_power_w:.0f} W"
        price = "" if m.price_usd is None else f"{m.price_usd:,.0f} USD"
        line = (
            f"{m.name:<{width}} {m.nominal_power_w:>5.0f} W {m.nominal_hashrate_ths:>6.4g} TH/s "
            f"{m.efficiency_j_per_th:>6.1f} J/TH {span:>20} {price:>9}"
        )
        print(line.rstrip())
    print("Levels: a miner whose power is one of a few settings (work modes, frequencies);")
    print("`--json` lists them with each model's source.")
    print("Or any miner as <W>W@<TH>TH (on/off at that power), e.g. 3250W@95TH;")
    print("add :COUNT for several, e.g. 'S19j Pro:2'. Prices are indicative street prices.")
    return 0
